package dev.autodir.backend.tensorrt;

import dev.autodir.backend.Precision;

import java.util.Locale;

/**
 * The precision TensorRT builds an engine in. Engine inputs and outputs stay float32 (the ONNX graph's I/O types);
 * FP16 and BF16 let the builder pick half-width kernels for the layers inside ({@code BuilderFlag.kFP16} /
 * {@code kBF16}), FP32 keeps them float32 (and, unless a recipe asks for TF32, off the TF32 tensor cores too).
 *
 * <p>Separate from {@link Precision}, which is the cuda backend's storage type: the cuda kernels store fp32 or fp16,
 * so bf16 exists only here.
 */
public enum EnginePrecision {
    FP32,
    FP16,
    BF16;

    /** "fp32" / "fp16" / "bf16" (case-insensitive); anything else throws naming the value. */
    public static EnginePrecision parse(String s) {
        if (s != null) {
            for (EnginePrecision p : values()) if (p.name().equalsIgnoreCase(s.trim())) return p;
        }
        throw new IllegalArgumentException("unknown engine precision \"" + s + "\" (expected fp32, fp16 or bf16)");
    }

    /** The engine precision a run's {@code --precision} asks for. */
    public static EnginePrecision of(Precision p) {
        return p == Precision.FP16 ? FP16 : FP32;
    }

    public String lower() { return name().toLowerCase(Locale.ROOT); }
}
