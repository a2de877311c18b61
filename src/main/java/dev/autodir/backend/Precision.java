package dev.autodir.backend;

import java.util.Locale;

/** Storage and compute precision of a device backend (the cpu backend is always float32). */
public enum Precision {
    FP32, FP16;

    public static Precision parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "fp32", "float32" -> FP32;
            case "fp16", "float16", "half" -> FP16;
            default -> throw new IllegalArgumentException("unknown precision \"" + s + "\" (choose fp32 or fp16)");
        };
    }
}
