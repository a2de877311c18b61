package dev.autodir.backend;

import java.util.Locale;
/**
 * How the cuda backend stores activations and weights. Arithmetic is float32 in both: FP16 tensors are
 * storage, matrix products accumulate in float32, and softmax / normalisation statistics are float32.
 */
public enum Precision {
    /** float32 storage: the precision the conformance suite and the goldens check at their tight tolerances. */
    FP32(4),
    /** IEEE binary16 storage (tensor cores for the matrix products and attention). */
    FP16(2);

    private final int bytes;

    Precision(int bytes) { this.bytes = bytes; }

    public int bytes() { return bytes; }

    /** The flag the dtype-generic kernels take: 0 = float32, 1 = float16. */
    public int halfFlag() { return this == FP16 ? 1 : 0; }

    /** "fp32" / "fp16" (case-insensitive); anything else throws naming the value. */
    public static Precision parse(String s) {
        for (Precision p : values()) if (p.name().equalsIgnoreCase(s)) return p;
        throw new IllegalArgumentException("unknown precision \"" + s + "\" (expected fp32 or fp16)");
    }

    public String lower() { return name().toLowerCase(Locale.ROOT); }
}
