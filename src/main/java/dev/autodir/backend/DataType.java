package dev.autodir.backend;

import java.util.Locale;

/**
 * The element type of a {@link Tensor}. Networks take and return float32 and int32 tensors (token ids, attention
 * masks, gather indices); a device backend may store float tensors as float16 ({@link #FLOAT16}), which it reports
 * as their data type while their values keep the float32 meaning.
 */
public enum DataType {
    FLOAT32(4, "float32"),
    FLOAT16(2, "float16"),
    INT32(4, "int32");

    private final int bytes;
    private final String label;

    DataType(int bytes, String label) {
        this.bytes = bytes;
        this.label = label;
    }

    public int bytes() { return bytes; }

    public boolean isFloat() { return this != INT32; }

    /** "float32", "float16", "int32": the names ONNX, TensorRT and the manifests use. */
    public String label() { return label; }

    /** "float32" / "float16" / "int32" (case-insensitive); anything else throws naming the value. */
    public static DataType parse(String s) {
        for (DataType t : values()) if (t.label.equalsIgnoreCase(s) || t.name().equalsIgnoreCase(s)) return t;
        throw new IllegalArgumentException("unknown data type \"" + s + "\" (expected float32, float16 or int32)");
    }

    @Override public String toString() { return label.toLowerCase(Locale.ROOT); }
}
