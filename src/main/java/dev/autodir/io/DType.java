package dev.autodir.io;

import java.util.Locale;

/** Element types a checkpoint may hold. */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    private final int bytes;

    DType(int bytes) { this.bytes = bytes; }

    public int bytes() { return bytes; }

    public boolean isFloat() { return this == F64 || this == F32 || this == F16 || this == BF16; }

    /** The safetensors spelling ("F32", "BF16", "BOOL", ...); throws naming the unknown type. */
    public static DType fromSafetensors(String s) {
        for (DType d : values()) if (d.name().equals(s)) return d;
        throw new IllegalArgumentException("unknown safetensors dtype \"" + s + "\"");
    }

    public String lower() { return name().toLowerCase(Locale.ROOT); }
}
