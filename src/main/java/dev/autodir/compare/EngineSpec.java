package dev.autodir.compare;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One engine of {@code compare}: a backend and a precision, written {@code backend:precision}
 * ({@code cpu:fp32}, {@code cpu:int8}, {@code onnxruntime:int8}, {@code cuda:fp16}, {@code tensorrt:fp8}, ...).
 */
public record EngineSpec(String backend, String precision) {
    public static final List<String> BACKENDS = List.of("cpu", "cuda", "onnxruntime", "tensorrt");
    public static final List<String> PRECISIONS = List.of("fp32", "fp16", "bf16", "int8", "fp8");

    public EngineSpec {
        backend = backend.toLowerCase(Locale.ROOT);
        precision = precision.toLowerCase(Locale.ROOT);
        if (!BACKENDS.contains(backend)) throw new IllegalArgumentException("--engines: unknown backend \"" + backend + "\" (backends: " + BACKENDS + ")");
        if (!PRECISIONS.contains(precision)) throw new IllegalArgumentException("--engines: unknown precision \"" + precision + "\" (precisions: " + PRECISIONS + ")");
    }

    public static EngineSpec parse(String s) {
        String t = s.trim();
        int colon = t.indexOf(':');
        if (colon <= 0 || colon == t.length() - 1) throw new IllegalArgumentException("--engines: \"" + s + "\" is not backend:precision (e.g. cpu:fp32)");
        return new EngineSpec(t.substring(0, colon), t.substring(colon + 1));
    }

    /** A comma-separated list; an engine given twice is refused. */
    public static List<EngineSpec> parseList(String s) {
        List<EngineSpec> out = new ArrayList<>();
        for (String p : s.split(",")) {
            if (p.isBlank()) continue;
            EngineSpec e = parse(p);
            if (out.contains(e)) throw new IllegalArgumentException("--engines: " + e + " is given twice");
            out.add(e);
        }
        if (out.isEmpty()) throw new IllegalArgumentException("--engines: no engine given");
        return out;
    }

    public boolean quantized() { return precision.equals("int8") || precision.equals("fp8"); }

    @Override public String toString() { return backend + ":" + precision; }
}
