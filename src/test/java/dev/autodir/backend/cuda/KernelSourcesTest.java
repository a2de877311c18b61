package dev.autodir.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Checks, without a GPU, that the Java side and the packaged kernel sources agree: every {@link Kernel} names a
 * function that exists in its .cu file with exactly the parameter kinds the launch passes (a wrong count or
 * order would otherwise only show as garbage on the device), every kernel in the sources is known to Java,
 * and every file carries the header the style guide asks for.
 */
class KernelSourcesTest {
    private static final Pattern KERNEL = Pattern.compile(
            "extern\\s+\"C\"\\s+__global__\\s+void\\s+(?:__launch_bounds__\\s*\\([^)]*\\)\\s*)?([A-Za-z_][\\w#]*)\\s*\\(([^)]*)\\)");
    private static final Pattern DEFINE = Pattern.compile("#define\\s+(\\w+)\\(([^)]*)\\)\\s+(.*)");

    /** function name → signature letters, with macro instantiations expanded. */
    static Map<String, String> parse(String file, String source) {
        String text = source.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ").replace("\\\n", " ");
        Map<String, String> out = new LinkedHashMap<>();
        Map<String, String[]> macros = new HashMap<>();
        Map<String, String> macroBodies = new HashMap<>();
        for (String line : text.split("\n")) {
            Matcher d = DEFINE.matcher(line.trim());
            if (d.matches() && d.group(3).contains("__global__")) {
                macros.put(d.group(1), d.group(2).split("\\s*,\\s*"));
                macroBodies.put(d.group(1), d.group(3));
            }
        }
        List<String> bodies = new ArrayList<>();
        StringBuilder plain = new StringBuilder();
        for (String line : text.split("\n")) {
            String trimmed = line.trim();
            if (trimmed.startsWith("#define")) continue;
            Matcher inst = Pattern.compile("^(\\w+)\\(([^)]*)\\)\\s*;?\\s*$").matcher(trimmed);
            if (inst.matches() && macros.containsKey(inst.group(1))) {
                String[] params = macros.get(inst.group(1));
                String[] args = inst.group(2).split("\\s*,\\s*");
                if (params.length != args.length) fail(file + ": " + trimmed + " has " + args.length + " arguments for " + params.length);
                String body = macroBodies.get(inst.group(1));
                for (int i = 0; i < params.length; i++) body = body.replaceAll("\\b" + params[i] + "\\b", Matcher.quoteReplacement(args[i]));
                bodies.add(body.replaceAll("\\s*##\\s*", ""));
            } else {
                plain.append(line).append('\n');
            }
        }
        bodies.add(plain.toString());
        for (String body : bodies) {
            Matcher m = KERNEL.matcher(body);
            while (m.find()) {
                String name = m.group(1);
                if (out.put(name, signature(file, name, m.group(2))) != null) fail(file + ": kernel " + name + " defined twice");
            }
        }
        return out;
    }

    private static String signature(String file, String kernel, String params) {
        StringBuilder s = new StringBuilder();
        for (String p : params.split(",")) {
            String t = p.trim().replaceAll("\\s+", " ");
            if (t.isEmpty()) continue;
            if (t.contains("*")) s.append('p');
            else if (t.matches("(const )?int \\w+")) s.append('i');
            else if (t.matches("(const )?(i64|long long) \\w+")) s.append('l');
            else if (t.matches("(const )?float \\w+")) s.append('f');
            else fail(file + ": kernel " + kernel + " has a parameter of unknown kind: " + t);
        }
        return s.toString();
    }

    private static String source(String file) {
        String text = KernelLibrary.readText(KernelLibrary.RESOURCE_DIR + file + ".cu");
        assertNotNull(text, "kernel source " + file + ".cu is not packaged on the classpath");
        return text;
    }

    @Test
    void everyLaunchMatchesItsKernelSignature() {
        Map<String, Map<String, String>> perFile = new HashMap<>();
        for (Kernel k : Kernel.all()) {
            Map<String, String> kernels = perFile.computeIfAbsent(k.file(), f -> parse(f, source(f)));
            String sig = kernels.get(k.function());
            assertNotNull(sig, k.file() + ".cu has no kernel " + k.function() + " (found " + kernels.keySet() + ")");
            assertEquals(sig, k.signature(), k.file() + ".cu: " + k.function() + " parameters vs the Java launch signature");
        }
    }

    @Test
    void everyKernelInTheSourcesIsKnown() {
        List<String> known = Kernel.all().stream().map(Kernel::function).toList();
        for (String file : Kernel.files()) {
            for (String name : parse(file, source(file)).keySet()) {
                assertTrue(known.contains(name), file + ".cu defines " + name + ", which no Kernel constant launches");
            }
        }
    }

    @Test
    void parserSeesMacroInstantiations() {
        Map<String, String> flash = parse("attention_flash", source("attention_flash"));
        assertEquals(Kernel.FLASH_WIDTHS.length, flash.size(), "attention_flash kernels: " + flash.keySet());
        Map<String, String> generic = parse("attention_generic", source("attention_generic"));
        assertEquals(2 * Kernel.GENERIC_MAX_WIDTH / 32, generic.size(), "attention_generic kernels: " + generic.keySet());
    }

    @Test
    void everyFileSaysWhatItComputesHowItLaunchesAndWhatChecksIt() {
        for (String file : Kernel.files()) {
            String text = source(file);
            assertTrue(text.startsWith("// " + file + ".cu"), file + ".cu must open with a comment naming itself");
            assertTrue(text.contains("Launch"), file + ".cu: no launch shape in its header");
            assertTrue(text.contains("Checked by"), file + ".cu: no \"Checked by\" (its reference) in its header");
            assertTrue(text.contains("#include \"common.cuh\""), file + ".cu must include common.cuh (the only header NVRTC gets)");
            assertTrue(!text.contains("#include <"), file + ".cu includes a system header, which NVRTC without an include path cannot see");
        }
        assertNotNull(KernelLibrary.readText(KernelLibrary.RESOURCE_DIR + "common.cuh"), "common.cuh is not packaged");
    }

    @Test
    void fatbinsArePackagedForEveryFileOrForNone() {
        // With nvcc present (profile cuda-kernels) every file has a fatbin; without, none does and NVRTC compiles at run time.
        List<String> missing = new ArrayList<>(), present = new ArrayList<>();
        for (String file : Kernel.files()) {
            (KernelLibrary.readResource(KernelLibrary.RESOURCE_DIR + file + ".fatbin") == null ? missing : present).add(file);
        }
        assertTrue(missing.isEmpty() || present.isEmpty(), "fatbins for " + present + " but not for " + missing);
    }
}
