package dev.autodir.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.autodir.backend.cpu.VectorMath.F;
import static dev.autodir.backend.cpu.VectorMath.LANES;

/**
 * Masked softmax of one row of attention scores, in place in native memory (the buffer OpenBLAS
 * wrote): m = max, e = exp(s − m), and 1 / Σe for the caller to apply after the product with v
 * (PyTorch scales e before that product; the two differ by float rounding only).
 */
final class Softmax {
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private Softmax() { }

    /**
     * Row of {@code n} scores at float offset {@code off} → exp(s − max), left unnormalised; returns
     * 1 / Σ exp(s − max), by which the caller scales the row's product with v (one pass less over the
     * scores than normalising here). Keys at or after {@code visible} (the causal limit) and keys with
     * {@code keep[j] == 0} get weight exactly 0; a row without any visible key becomes all zeros and
     * returns 0.
     */
    static float rowUnnormalised(ByteBuffer b, long off, int n, int visible, int[] keep) {
        int base = Math.toIntExact(off * Float.BYTES);
        if (keep != null) {
            for (int j = 0; j < visible; j++) {
                if (keep[j] == 0) b.putFloat(base + j * Float.BYTES, Float.NEGATIVE_INFINITY);
            }
        }
        int bound = F.loopBound(visible), j = 0;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (; j < bound; j += LANES) mv = mv.max(FloatVector.fromByteBuffer(F, b, base + j * Float.BYTES, ORDER));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; j < visible; j++) max = Math.max(max, b.getFloat(base + j * Float.BYTES));
        if (max == Float.NEGATIVE_INFINITY) {
            zero(b, base, 0, n);
            return 0f;
        }
        FloatVector acc = FloatVector.zero(F);
        for (j = 0; j < bound; j += LANES) {
            int at = base + j * Float.BYTES;
            FloatVector e = FloatVector.fromByteBuffer(F, b, at, ORDER).sub(max).lanewise(VectorOperators.EXP);
            e.intoByteBuffer(b, at, ORDER);
            acc = acc.add(e);
        }
        double sum = acc.reduceLanes(VectorOperators.ADD);
        for (; j < visible; j++) {
            int at = base + j * Float.BYTES;
            float e = (float) Math.exp(b.getFloat(at) - max);
            b.putFloat(at, e);
            sum += e;
        }
        zero(b, base, visible, n);
        return (float) (1 / sum);
    }

    /** Multiplies {@code n} floats at float offset {@code off} by {@code s}. */
    static void scale(ByteBuffer b, long off, int n, float s) {
        int base = Math.toIntExact(off * Float.BYTES), bound = F.loopBound(n), j = 0;
        for (; j < bound; j += LANES) {
            int at = base + j * Float.BYTES;
            FloatVector.fromByteBuffer(F, b, at, ORDER).mul(s).intoByteBuffer(b, at, ORDER);
        }
        for (; j < n; j++) {
            int at = base + j * Float.BYTES;
            b.putFloat(at, b.getFloat(at) * s);
        }
    }

    private static void zero(ByteBuffer b, int base, int from, int to) {
        for (int j = from; j < to; j++) b.putFloat(base + j * Float.BYTES, 0f);
    }
}
