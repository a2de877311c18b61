package dev.autodir.backend.cpu;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.OpsConformanceTest;
import dev.autodir.backend.ReferenceOps;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** What only the cpu backend has: its special functions, its blocked paths, its options and lifetime. */
class CpuOpsTest {

    private static FloatTensor random(long seed, int... shape) {
        Random r = new Random(seed);
        FloatTensor t = FloatTensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) r.nextGaussian();
        return t;
    }

    private static void assertRelL2(String what, FloatTensor out, FloatTensor ref, double tol) {
        double rel = out.relL2(ref);
        assertTrue(rel <= tol, what + ": rel-L2 " + rel + " > " + tol);
    }

    /** The reference erf itself, at values from tables of the error function (to 15 digits). */
    @Test void referenceErfMatchesTables() {
        double[][] table = {{0.1, 0.1124629160182849}, {0.5, 0.5204998778130465}, {1, 0.8427007929497149},
                {2, 0.9953222650189527}, {3, 0.9999779095030014}, {3.5, 0.9999992569016276}, {4, 0.9999999845827421}};
        for (double[] row : table) {
            assertEquals(row[1], ReferenceOps.erf(row[0]), 1e-14, "erf(" + row[0] + ")");
            assertEquals(-row[1], ReferenceOps.erf(-row[0]), 1e-14, "erf(" + -row[0] + ")");
        }
    }

    /** Our float erfc-based GELU against the double reference on a dense grid: relative error per element. */
    @Test void geluIsAccurateEverywhere() {
        // relative error ≤ 1e-6 for x ≥ −4; below, the float rounding of the exponent −x²/2 + P (≥ 8)
        // alone is worth ~1e-6 relative, so 3e-6 there, where |GELU| < 1.3e-4 (PyTorch's float
        // 1 + erf(u) loses far more in that range, to cancellation)
        for (int i = -100_000; i <= 100_000; i++) {
            float x = i * 1e-4f;                                       // [-10, 10] in steps of 1e-4
            double ref = 0.5 * x * (1 + ReferenceOps.erf(x / Math.sqrt(2)));
            double got = VectorMath.gelu(x);
            double rtol = x >= -4 ? 1e-6 : 3e-6;
            if (!(Math.abs(got - ref) <= rtol * Math.abs(ref) + 1e-15)) fail("gelu(" + x + ") = " + got + ", expected " + ref);
        }
        // the vector kernel computes the same function as the scalar one
        float[] xs = new float[4099], vec = new float[xs.length];
        for (int i = 0; i < xs.length; i++) xs[i] = (i - 2049) * 0.005f;
        VectorMath.apply(VectorMath.Unary.GELU, xs, 0, vec, 0, xs.length);
        for (int i = 0; i < xs.length; i++) {
            double ref = 0.5 * xs[i] * (1 + ReferenceOps.erf(xs[i] / Math.sqrt(2)));
            if (Math.abs(vec[i] - ref) > (xs[i] >= -4 ? 1e-6 : 3e-6) * Math.abs(ref) + 1e-15) {
                fail("vector gelu(" + xs[i] + ") = " + vec[i] + ", expected " + ref);
            }
        }
    }

    /** Tiny block limits force convolutions into bands of output rows and attention into query blocks. */
    @Test void blockedPathsMatchTheReference() {
        try (CpuOps ops = new CpuOps(2, true, 300, 50, 64, 3, 1)) {
            FloatTensor x = random(1, 2, 5, 13, 11), w = random(2, 7, 5, 3, 3), b = random(3, 7);
            for (int stride = 1; stride <= 2; stride++) {
                assertRelL2("banded conv2d s" + stride, (FloatTensor) ops.conv2d(x, w, b, stride, 1, 1),
                        ReferenceOps.conv2d(x, w, b, stride, 1, 1), 1e-5);
            }
            FloatTensor xw = random(14, 2, 40, 11, 9), ww = random(15, 6, 40, 3, 3);   // the shifted-window path
            assertRelL2("banded shifted conv2d", (FloatTensor) ops.conv2d(xw, ww, null, 1, 1, 1),
                    ReferenceOps.conv2d(xw, ww, null, 1, 1, 1), 1e-5);
            FloatTensor q = random(4, 2, 37, 24), k = random(5, 2, 29, 24), v = random(6, 2, 29, 24);
            assertRelL2("blocked attention", (FloatTensor) ops.attention(q, k, v, 3, 0.3f, AttentionMask.NONE),
                    ReferenceOps.attention(q, k, v, 3, 0.3f, AttentionMask.NONE), 1e-5);
            FloatTensor s = random(7, 2, 37, 24);
            AttentionMask causal = AttentionMask.CAUSAL;
            assertRelL2("blocked causal attention", (FloatTensor) ops.attention(s, s, s, 4, 0.3f, causal),
                    ReferenceOps.attention(s, s, s, 4, 0.3f, causal), 1e-5);
        }
    }

    /** Every convolution path (im2col, shifted window, Winograd, 1x1) with weights cached or not. */
    @Test void withoutTheNativeWeightCacheResultsAreTheSame() {
        int[][] cases = {{6, 4, 3, 1}, {6, 40, 5, 1}, {40, 40, 3, 1}, {40, 40, 1, 0}};   // Cout, Cin, k, pad
        try (CpuOps cached = new CpuOps(2, true); CpuOps plain = new CpuOps(2, false)) {
            for (int[] c : cases) {
                OpsConformanceTest.MemoryStore store = new OpsConformanceTest.MemoryStore();
                store.put("w", random(8, c[0], c[1], c[2], c[2]));
                FloatTensor x = random(9, 1, c[1], 9, 8);
                for (int call = 0; call < 2; call++) {
                    FloatTensor a = (FloatTensor) cached.conv2d(x, cached.weight(store, "w"), null, 1, c[3], 1);
                    FloatTensor b = (FloatTensor) plain.conv2d(x, plain.weight(store, "w"), null, 1, c[3], 1);
                    assertEquals(0, a.maxAbsDiff(b), "cached and uncached weights differ for " + java.util.Arrays.toString(c));
                    assertRelL2("conv2d " + java.util.Arrays.toString(c), a,
                            ReferenceOps.conv2d(x, store.readFloat("w"), null, 1, c[3], 1), 1e-5);
                }
            }
        }
    }

    /** A query with no visible key (here: every key padding) gets an output row of zeros. */
    @Test void fullyMaskedRowsGiveZeros() {
        try (CpuOps ops = new CpuOps()) {
            FloatTensor q = random(10, 2, 3, 8), k = random(11, 2, 4, 8);
            AttentionMask m = new AttentionMask(false, new int[][] {{0, 0, 0, 0}, {1, 0, 1, 0}});
            FloatTensor out = (FloatTensor) ops.attention(q, k, k, 2, 1f, m);
            for (int i = 0; i < 3 * 8; i++) assertEquals(0f, out.data()[i], "row of batch 0 should be zeros");
            assertRelL2("partly masked batch", out, ReferenceOps.attention(q, k, k, 2, 1, m), 1e-5);
        }
    }

    /** The warm-up runs every kernel; afterwards the backend computes as before. */
    @Test void warmUpLeavesTheBackendUsable() {
        try (CpuOps ops = new CpuOps()) {
            assertTrue(ops.warmUp() >= 0);
            FloatTensor x = random(20, 1, 40, 9, 7), w = random(21, 36, 40, 3, 3), b = random(22, 36);
            assertRelL2("conv2d after warm-up", (FloatTensor) ops.conv2d(x, w, b, 1, 1, 1),
                    ReferenceOps.conv2d(x, w, b, 1, 1, 1), 1e-5);
        }
    }

    @Test void closedBackendRefusesWork() {
        CpuOps ops = new CpuOps();
        FloatTensor x = random(12, 2, 3);
        ops.close();
        ops.close();                                                  // closing twice is harmless
        assertThrows(IllegalStateException.class, () -> ops.linear(x, random(13, 4, 3), null));
    }
}
