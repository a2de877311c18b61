package dev.autodir.tensor;

import dev.autodir.backend.Tensor;

import java.util.Arrays;

/**
 * A float32 tensor in host memory, row-major (NCHW for images, [batch, tokens, width] for sequences).
 *
 * <p>This is the interchange type between the loader, the pipeline and every backend, and it is the
 * cpu backend's own tensor type. The array is shared, not copied: {@link #reshape} returns a view of
 * the same data. Host memory is owned by the garbage collector, so {@link #close()} does nothing.
 */
public final class FloatTensor implements Tensor {
    private final int[] shape;
    private final float[] data;

    public FloatTensor(float[] data, int... shape) {
        long n = numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException(
                    "data length " + data.length + " does not match shape " + Arrays.toString(shape) + " (" + n + " elements)");
        }
        this.shape = shape.clone();
        this.data = data;
    }

    public static FloatTensor zeros(int... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " has " + n
                    + " elements, more than a Java array can hold");
        }
        return new FloatTensor(new float[(int) n], shape);
    }

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n *= d;
        }
        return n;
    }

    @Override public int[] shape() { return shape.clone(); }
    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }
    public int rank() { return shape.length; }
    public int numel() { return data.length; }
    /** The backing array, shared with every view of this tensor. */
    public float[] data() { return data; }

    /** A view with another shape over the same data (the element count must match). */
    public FloatTensor reshape(int... newShape) { return new FloatTensor(data, newShape); }

    public FloatTensor copy() { return new FloatTensor(data.clone(), shape); }

    /** ‖this − ref‖₂ / ‖ref‖₂ accumulated in double; shapes must have the same element count. */
    public double relL2(FloatTensor ref) {
        if (ref.data.length != data.length) {
            throw new IllegalArgumentException("relL2 of shapes " + Arrays.toString(shape) + " and " + Arrays.toString(ref.shape));
        }
        double num = 0, den = 0;
        for (int i = 0; i < data.length; i++) {
            double d = (double) data[i] - ref.data[i];
            num += d * d;
            den += (double) ref.data[i] * ref.data[i];
        }
        if (den == 0) return num == 0 ? 0 : Double.POSITIVE_INFINITY;
        return Math.sqrt(num / den);
    }

    public double maxAbsDiff(FloatTensor ref) {
        double m = 0;
        for (int i = 0; i < data.length; i++) m = Math.max(m, Math.abs((double) data[i] - ref.data[i]));
        return m;
    }

    @Override public void close() { }

    @Override public String toString() { return "FloatTensor" + Arrays.toString(shape); }
}
