package dev.autodir.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.nio.ByteBuffer;

import static dev.autodir.backend.cpu.VectorMath.F;
import static dev.autodir.backend.cpu.VectorMath.LANES;

/**
 * Masked softmax of one row of attention scores, in place in native memory (the buffer OpenBLAS
 * wrote): m = max, e = exp(s − m), and 1 / Σe for the caller to apply after the product with v
 * (PyTorch scales e before that product; the two differ by float rounding only).
 */
final class Softmax {
    private Softmax() { }

    /**
     * Row of {@code n} scores at float offset {@code off} → exp(s − max), left unnormalised; returns
     * 1 / Σ exp(s − max), by which the caller scales the row's product with v (one pass less over the
     * scores than normalising here). Keys at or after {@code visible} (the causal limit) and keys with
     * {@code keep[j] == 0} get weight exactly 0; a row without any visible key becomes all zeros and
     * returns 0.
     */
    static float rowUnnormalised(ByteBuffer b, long off, int n, int visible, int[] keep) {
        // work on a heap copy of the row: the Vector API's ByteBuffer loads are gone in newer JDKs (25), while
        // array loads exist in every version; the two bulk copies cost little next to the exponentials
        float[] row = ROW.get();
        if (row.length < n) {
            row = new float[n];
            ROW.set(row);
        }
        java.nio.FloatBuffer fb = b.asFloatBuffer();
        int base = Math.toIntExact(off);
        fb.get(base, row, 0, n);
        if (keep != null) {
            for (int j = 0; j < visible; j++) if (keep[j] == 0) row[j] = Float.NEGATIVE_INFINITY;
        }
        int bound = F.loopBound(visible), j = 0;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (; j < bound; j += LANES) mv = mv.max(FloatVector.fromArray(F, row, j));
        float max = mv.reduceLanes(VectorOperators.MAX);           // exact in any order
        for (; j < visible; j++) max = Math.max(max, row[j]);
        if (max == Float.NEGATIVE_INFINITY) {
            java.util.Arrays.fill(row, 0, n, 0f);
            fb.put(base, row, 0, n);
            return 0f;
        }
        FloatVector acc = FloatVector.zero(F);
        for (j = 0; j < bound; j += LANES) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(F, row, j).sub(max));
            e.intoArray(row, j);
            acc = acc.add(e);
        }
        double sum = VectorMath.addLanes(acc);                     // fixed order: reproducible run to run
        for (; j < visible; j++) {
            float e = VectorMath.exp(row[j] - max);
            row[j] = e;
            sum += e;
        }
        java.util.Arrays.fill(row, visible, n, 0f);
        fb.put(base, row, 0, n);
        return (float) (1 / sum);
    }

    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    /** Multiplies {@code n} floats at float offset {@code off} by {@code s}. */
    static void scale(ByteBuffer b, long off, int n, float s) {
        java.nio.FloatBuffer fb = b.asFloatBuffer();
        int base = Math.toIntExact(off);
        for (int j = 0; j < n; j++) fb.put(base + j, fb.get(base + j) * s);
    }

    private static void zero(ByteBuffer b, int base, int from, int to) {
        for (int j = from; j < to; j++) b.putFloat(base + j * Float.BYTES, 0f);
    }
}
