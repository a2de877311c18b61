package dev.autodir.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** The machine a benchmark ran on, for comparing runs: CPU model, cores, OS, JVM and its heap limit. */
public record Machine(String cpu, int cores, String os, String jvm, long maxHeapMb) {
    /** This machine. The CPU model comes from /proc/cpuinfo on Linux, else "unknown (ARCH)". */
    public static Machine current() {
        Runtime rt = Runtime.getRuntime();
        String os = System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch");
        String jvm = System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")
                + " (" + System.getProperty("java.vm.vendor") + ")";
        return new Machine(cpuModel(), rt.availableProcessors(), os, jvm, rt.maxMemory() / (1024 * 1024));
    }

    static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equals("model name")) return line.substring(colon + 1).trim();
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or not readable: fall through
        }
        return "unknown (" + System.getProperty("os.arch") + ")";
    }

    /** The fields by their JSON names. */
    public Map<String, Object> asMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", cpu);
        m.put("cores", cores);
        m.put("os", os);
        m.put("jvm", jvm);
        m.put("max_heap_mb", maxHeapMb);
        return m;
    }
}
