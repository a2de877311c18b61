package dev.autodir.backend;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Which backend runs each stage, parsed from a {@code --backend} value: one name for every stage
 * ({@code cpu}, {@code cuda}, {@code onnxruntime}) or per stage ({@code unet=cuda,vae=cuda,scm=cuda,clip=cpu}; stages not named take
 * {@code cpu}, or the value of a bare name given in the same list, e.g. {@code cuda,clip=cpu}).
 */
public record BackendSpec(String clip, String vae, String unet, String scm) {
    public static final String[] STAGES = {"clip", "vae", "unet", "scm"};
    public static final String[] NAMES = {"cpu", "cuda", "onnxruntime", "tensorrt"};

    public static BackendSpec parse(String spec) {
        if (spec == null || spec.isBlank()) return all("cpu");
        String fallback = "cpu";
        Map<String, String> m = new LinkedHashMap<>();
        for (String part : spec.split(",")) {
            String p = part.trim().toLowerCase(Locale.ROOT);
            if (p.isEmpty()) continue;
            int eq = p.indexOf('=');
            if (eq < 0) {
                fallback = name(p, spec);
                continue;
            }
            String stage = p.substring(0, eq).trim(), name = name(p.substring(eq + 1).trim(), spec);
            if (!java.util.Arrays.asList(STAGES).contains(stage)) {
                throw new IllegalArgumentException("--backend " + spec + ": unknown stage \"" + stage + "\" (stages: clip, vae, unet, scm)");
            }
            if (m.put(stage, name) != null) throw new IllegalArgumentException("--backend " + spec + ": stage " + stage + " given twice");
        }
        return new BackendSpec(m.getOrDefault("clip", fallback), m.getOrDefault("vae", fallback),
                m.getOrDefault("unet", fallback), m.getOrDefault("scm", fallback));
    }

    public static BackendSpec all(String name) { return new BackendSpec(name, name, name, name); }

    private static String name(String n, String spec) {
        if (!java.util.Arrays.asList(NAMES).contains(n)) {
            throw new IllegalArgumentException("--backend " + spec + ": unknown backend \"" + n + "\" (backends: " + String.join(", ", NAMES) + ")");
        }
        return n;
    }

    public boolean uses(String name) {
        return clip.equals(name) || vae.equals(name) || unet.equals(name) || scm.equals(name);
    }

    @Override public String toString() { return "clip=" + clip + ",vae=" + vae + ",unet=" + unet + ",scm=" + scm; }
}
