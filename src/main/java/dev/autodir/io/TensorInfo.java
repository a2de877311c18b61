package dev.autodir.io;

import java.util.Arrays;

/**
 * What a checkpoint says of one tensor, known without reading its data. Validated on construction: at most
 * {@value #MAX_RANK} dimensions, none negative, and an element count that fits a long exactly (a shape whose
 * product wraps past 2^63 is refused, never read as a small tensor).
 */
public record TensorInfo(String key, DType dtype, int[] shape) {
    /** PyTorch's own limit on dimensions. */
    public static final int MAX_RANK = 64;

    public TensorInfo {
        if (shape.length > MAX_RANK) throw new IllegalArgumentException("rank " + shape.length + " is over the limit of " + MAX_RANK);
        exactNumel(shape);
    }

    /** The product of the dimensions, exactly; throws naming the shape when a dimension is negative or it overflows. */
    static long exactNumel(int[] shape) {
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative dimension");
            if (d == 0) return 0;
        }
        long n = 1;
        try {
            for (int d : shape) n = Math.multiplyExact(n, d);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has more than 2^63 elements");
        }
        return n;
    }

    public long numel() { return exactNumel(shape); }

    public int rank() { return shape.length; }

    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }

    @Override public String toString() { return key + " " + dtype + Arrays.toString(shape); }

    @Override public boolean equals(Object o) {
        return o instanceof TensorInfo t && t.key.equals(key) && t.dtype == dtype && Arrays.equals(t.shape, shape);
    }

    @Override public int hashCode() { return key.hashCode() * 31 + Arrays.hashCode(shape); }
}
