package dev.autodir.tensor;

import dev.autodir.backend.DataType;
import dev.autodir.backend.Tensor;

import java.util.Arrays;

/**
 * An int32 tensor in host memory, row-major: token ids, attention masks and gather indices as a network takes them.
 * Like {@link FloatTensor} it is the cpu backend's own type for its kind, and the array is shared by views.
 */
public final class IntTensor implements Tensor {
    private final int[] shape;
    private final int[] data;

    public IntTensor(int[] data, int... shape) {
        long n = FloatTensor.numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException(
                    "data length " + data.length + " does not match shape " + Arrays.toString(shape) + " (" + n + " elements)");
        }
        this.shape = shape.clone();
        this.data = data;
    }

    /** A [rows, columns] tensor from equally long rows (a row of another length throws naming it). */
    public static IntTensor of(int[][] rows) {
        if (rows == null || rows.length == 0) throw new IllegalArgumentException("IntTensor.of: no rows");
        int n = rows[0] == null ? -1 : rows[0].length;
        int[] d = new int[Math.multiplyExact(rows.length, Math.max(n, 0))];
        for (int r = 0; r < rows.length; r++) {
            if (rows[r] == null || rows[r].length != n) {
                throw new IllegalArgumentException("IntTensor.of: row " + r + " has " + (rows[r] == null ? "no" : rows[r].length)
                        + " entries, row 0 has " + n);
            }
            System.arraycopy(rows[r], 0, d, r * n, n);
        }
        return new IntTensor(d, rows.length, n);
    }

    public static IntTensor zeros(int... shape) {
        long n = FloatTensor.numel(shape);
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("int tensor of shape " + Arrays.toString(shape) + " is too large");
        return new IntTensor(new int[(int) n], shape);
    }

    @Override public int[] shape() { return shape.clone(); }

    @Override public DataType dataType() { return DataType.INT32; }

    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }

    public int rank() { return shape.length; }

    public int numel() { return data.length; }

    /** The backing array, shared with every view of this tensor. */
    public int[] data() { return data; }

    /** Row {@code r} of a rank-2 tensor, copied. */
    public int[] row(int r) {
        if (rank() != 2) throw new IllegalArgumentException("row() of a rank-" + rank() + " tensor " + Arrays.toString(shape));
        return Arrays.copyOfRange(data, r * shape[1], (r + 1) * shape[1]);
    }

    public IntTensor reshape(int... newShape) { return new IntTensor(data, newShape); }

    public IntTensor copy() { return new IntTensor(data.clone(), shape); }

    @Override public void close() { }

    @Override public String toString() { return "IntTensor" + Arrays.toString(shape); }
}
