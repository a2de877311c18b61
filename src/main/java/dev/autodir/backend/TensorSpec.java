package dev.autodir.backend;

import java.util.Arrays;
import java.util.regex.Pattern;

/**
 * One named input or output of a compiled network: its data type and static shape (the I/O contract TensorRT and ONNX
 * Runtime engines are built for, and the engine cache is keyed by).
 */
public record TensorSpec(String name, DataType type, int[] shape) {
    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    public TensorSpec {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("tensor name \"" + name + "\" must be an identifier ([A-Za-z_][A-Za-z0-9_]*)");
        }
        if (type == null) throw new IllegalArgumentException(name + ": no data type");
        if (type == DataType.FLOAT16) throw new IllegalArgumentException(name + ": network I/O is float32 or int32, not float16");
        if (shape == null) throw new IllegalArgumentException(name + ": no shape");
        for (int d : shape) if (d < 0) throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
        shape = shape.clone();
    }

    public static TensorSpec float32(String name, int... shape) { return new TensorSpec(name, DataType.FLOAT32, shape); }

    public static TensorSpec int32(String name, int... shape) { return new TensorSpec(name, DataType.INT32, shape); }

    @Override public int[] shape() { return shape.clone(); }

    public long numel() {
        long n = 1;
        for (int d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    /** Whether {@code t} fits this spec: same shape, and int32 for int32 specs or a float type for float32 specs. */
    public boolean accepts(Tensor t) {
        if (!Arrays.equals(shape, t.shape())) return false;
        return type == DataType.INT32 ? t.dataType() == DataType.INT32 : t.dataType().isFloat();
    }

    /** "x float32 [1, 8, 64, 64]". */
    public String describe() { return name + " " + type.label() + " " + Arrays.toString(shape); }

    @Override public boolean equals(Object o) {
        return o instanceof TensorSpec s && s.name.equals(name) && s.type == type && Arrays.equals(s.shape, shape);
    }

    @Override public int hashCode() { return 31 * (31 * name.hashCode() + type.hashCode()) + Arrays.hashCode(shape); }

    @Override public String toString() { return describe(); }
}
