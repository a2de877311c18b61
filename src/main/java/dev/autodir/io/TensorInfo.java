package dev.autodir.io;

import java.util.Arrays;

/** What a checkpoint says of one tensor, known without reading its data. */
public record TensorInfo(String key, DType dtype, int[] shape) {
    public long numel() {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    public int rank() { return shape.length; }

    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }

    @Override public String toString() { return key + " " + dtype + Arrays.toString(shape); }

    @Override public boolean equals(Object o) {
        return o instanceof TensorInfo t && t.key.equals(key) && t.dtype == dtype && Arrays.equals(t.shape, shape);
    }

    @Override public int hashCode() { return key.hashCode() * 31 + Arrays.hashCode(shape); }
}
