package dev.autodir.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The NAME of each input of a batch, which its outputs are named after, and the name template of the final output.
 *
 * <p>The rule, deterministic for a given batch order: NAME is the input's file name without its extension
 * ({@code photo.v2.png} → {@code photo.v2}). When several inputs of the batch have the same NAME, each of them gets its
 * extension appended ({@code noise.png} → {@code noise_png}, {@code noise.tiff} → {@code noise_tiff}); when that still
 * leaves several alike (one file name in two folders), the second, third, ... in batch order get {@code _2},
 * {@code _3}, ... The pass files ({@code NAME_step_K_result.png}) use the same NAME.
 */
final class OutputNames {
    static final String NAME = "{name}";
    static final String DEFAULT_TEMPLATE = NAME + "_restored";

    private OutputNames() { }

    /** The NAME of each input, in order. */
    static List<String> names(List<Path> inputs) {
        List<String> names = new ArrayList<>();
        for (Path p : inputs) names.add(stem(p));
        names = disambiguate(names, inputs, true);
        return disambiguate(names, inputs, false);
    }

    /** One round of the rule: with the extension appended, or with a counter. */
    private static List<String> disambiguate(List<String> names, List<Path> inputs, boolean byExtension) {
        Map<String, Integer> count = new HashMap<>();
        for (String n : names) count.merge(n, 1, Integer::sum);
        Map<String, Integer> seen = new HashMap<>();
        List<String> out = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            String n = names.get(i);
            if (count.get(n) == 1) {
                out.add(n);
            } else if (byExtension) {
                String ext = extension(inputs.get(i));
                out.add(ext.isEmpty() ? n : n + "_" + ext);
            } else {
                int k = seen.merge(n, 1, Integer::sum);
                out.add(k == 1 ? n : n + "_" + k);
            }
        }
        return out;
    }

    /**
     * Checks a template of the final output's name (without its extension): it holds {@code {name}} and no path
     * separator, and no other braces.
     *
     * @throws IllegalArgumentException naming the problem
     */
    static void checkTemplate(String template) {
        if (!template.contains(NAME)) throw new IllegalArgumentException("must contain {name} (the input's name), got \"" + template + "\"");
        String rest = template.replace(NAME, "");
        if (rest.indexOf('{') >= 0 || rest.indexOf('}') >= 0) {
            throw new IllegalArgumentException("the only placeholder is {name}, got \"" + template + "\"");
        }
        if (template.indexOf('/') >= 0 || template.indexOf('\\') >= 0 || template.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("must be a file name, without / or \\, got \"" + template + "\"");
        }
    }

    /** The final output's file name: the template with NAME in, then "." and the format's extension. */
    static String output(String template, String name, String extension) {
        return template.replace(NAME, name) + "." + extension;
    }

    /** The file name without its last extension ("photo.v2.png" → "photo.v2"). */
    static String stem(Path file) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    private static String extension(Path file) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(dot + 1) : "";
    }
}
