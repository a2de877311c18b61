package dev.autodir.backend.cpu;

import dev.autodir.TestData;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.OpsConformanceTest;
import dev.autodir.backend.ReferenceOps;
import dev.autodir.golden.GoldenCases;
import dev.autodir.golden.GoldenCheck;
import dev.autodir.golden.GoldenConfig;
import dev.autodir.golden.GoldenSet;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.text.CLIPTokenizer;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    /**
     * A weight used as a matrix lives once, in native memory in its path's layout, with no heap copy left;
     * weights used as heap data (bias, depthwise kernel) stay on the heap with no native copy; each is read
     * from its store once, and the results are those of the reference.
     */
    @Test void matrixWeightsLiveOnceInNativeMemory() {
        OpsConformanceTest.MemoryStore store = new OpsConformanceTest.MemoryStore();
        store.put("linear", random(30, 7, 40));
        store.put("winograd", random(31, 36, 40, 3, 3));                 // 3x3 stride 1, >= 32 channels
        store.put("taps", random(32, 6, 40, 5, 5));                      // shifted windows
        store.put("pointwise", random(33, 12, 40, 1, 1));
        store.put("im2col", random(34, 9, 4, 3, 3));                     // few input channels
        store.put("depthwise", random(35, 40, 1, 3, 3));
        store.put("bias", random(36, 7));
        FloatTensor x = random(37, 1, 40, 9, 8), xs = random(38, 2, 5, 40), x4 = random(39, 1, 4, 6, 7);
        try (CpuOps ops = new CpuOps(2, true)) {
            for (int call = 0; call < 2; call++) {
                String c = " (call " + call + ")";
                assertRelL2("linear" + c, (FloatTensor) ops.linear(xs, ops.weight(store, "linear"), ops.weight(store, "bias")),
                        ReferenceOps.linear(xs, store.readFloat("linear"), store.readFloat("bias")), 1e-5);
                assertRelL2("winograd" + c, (FloatTensor) ops.conv2d(x, ops.weight(store, "winograd"), null, 1, 1, 1),
                        ReferenceOps.conv2d(x, store.readFloat("winograd"), null, 1, 1, 1), 1e-5);
                assertRelL2("taps" + c, (FloatTensor) ops.conv2d(x, ops.weight(store, "taps"), null, 1, 2, 1),
                        ReferenceOps.conv2d(x, store.readFloat("taps"), null, 1, 2, 1), 1e-5);
                assertRelL2("pointwise" + c, (FloatTensor) ops.conv2d(x, ops.weight(store, "pointwise"), null, 1, 0, 1),
                        ReferenceOps.conv2d(x, store.readFloat("pointwise"), null, 1, 0, 1), 1e-5);
                assertRelL2("im2col" + c, (FloatTensor) ops.conv2d(x4, ops.weight(store, "im2col"), null, 1, 1, 1),
                        ReferenceOps.conv2d(x4, store.readFloat("im2col"), null, 1, 1, 1), 1e-5);
                assertRelL2("depthwise" + c, (FloatTensor) ops.conv2d(x, ops.weight(store, "depthwise"), null, 1, 1, 40),
                        ReferenceOps.conv2d(x, store.readFloat("depthwise"), null, 1, 1, 40), 1e-5);
            }
            // the reference reads above count too: 1 by the backend + 2 by this test
            for (String key : new String[] {"linear", "winograd", "taps", "pointwise", "im2col", "depthwise", "bias"}) {
                assertEquals(3, store.reads(key), key + ": read by the backend more than once");
            }
            Map<String, CpuWeight.Layout> expected = Map.of("linear", CpuWeight.Layout.PLAIN, "winograd", CpuWeight.Layout.WINOGRAD,
                    "taps", CpuWeight.Layout.TAPS, "pointwise", CpuWeight.Layout.PLAIN, "im2col", CpuWeight.Layout.PLAIN);
            long total = 0;
            for (CpuWeight w : ops.cachedWeights()) {
                CpuWeight.Layout layout = expected.get(w.key());
                long numel = FloatTensor.numel(w.shape());
                if (layout == null) {                                        // depthwise, bias: heap only
                    assertTrue(w.onHeap(), w + " should keep its heap values");
                    assertEquals(0, w.nativeBytes(), w + " should have no native copy");
                    continue;
                }
                assertFalse(w.onHeap(), w + " kept its heap values next to its native layout");
                for (CpuWeight.Layout l : CpuWeight.Layout.values()) assertEquals(l == layout, w.has(l), w + " layout " + l);
                long bytes = (layout == CpuWeight.Layout.WINOGRAD ? numel / 9 * 16 : numel) * Float.BYTES;
                assertEquals(bytes, w.nativeBytes(), w + " native bytes");
                total += bytes;
            }
            assertEquals(7, ops.cachedWeights().size());
            assertEquals(total, ops.nativeWeightBytes());
        }
    }

    /**
     * Heap values dropped for a native layout come back when an operation needs them: copied from the plain
     * layout (no store read), or read from the store again for a Winograd weight; exact either way.
     */
    @Test void droppedHeapValuesComeBackExactly() {
        OpsConformanceTest.MemoryStore store = new OpsConformanceTest.MemoryStore();
        FloatTensor lin = random(40, 6, 40), conv = random(41, 36, 40, 3, 3);
        store.put("lin", lin);
        store.put("conv", conv);
        FloatTensor xs = random(42, 3, 40), x = random(43, 1, 40, 8, 9);
        try (CpuOps ops = new CpuOps(2, true)) {
            CpuWeight wl = (CpuWeight) ops.weight(store, "lin"), wc = (CpuWeight) ops.weight(store, "conv");
            ops.linear(xs, wl, null);
            ops.conv2d(x, wc, null, 1, 1, 1);
            assertFalse(wl.onHeap() || wc.onHeap(), "heap values kept after the native layouts were built");

            // a download copies without keeping heap values
            assertEquals(0, ops.download(wl).maxAbsDiff(lin), "linear weight after its native copy");
            assertEquals(1, wl.storeReads(), "the plain layout should give the values back without a store read");
            assertEquals(0, ops.download(wc).maxAbsDiff(conv), "Winograd weight read back");
            assertEquals(2, wc.storeReads(), "a Winograd weight's values come from the store again");
            assertFalse(wl.onHeap() || wc.onHeap(), "a download should not keep heap values");

            // heap use keeps them (no store read on every use), and the matrix paths still use their layouts
            FloatTensor sum = (FloatTensor) ops.add(wc, wc);
            assertEquals(0, ((FloatTensor) ops.add(wc, wc)).maxAbsDiff(sum));
            assertEquals(0, sum.maxAbsDiff(ReferenceOps.add(conv, conv)), "add of a weight brought back");
            assertTrue(wc.onHeap());
            assertEquals(3, wc.storeReads());
            assertRelL2("Winograd conv after heap use", (FloatTensor) ops.conv2d(x, wc, null, 1, 1, 1),
                    ReferenceOps.conv2d(x, conv, null, 1, 1, 1), 1e-5);
            assertTrue(wc.onHeap(), "using an existing layout should not drop heap values in use");

            // a second layout (stride 2: shifted windows) is built from the heap values, then they go again
            assertRelL2("stride-2 conv of the same weight", (FloatTensor) ops.conv2d(x, wc, null, 2, 1, 1),
                    ReferenceOps.conv2d(x, conv, null, 2, 1, 1), 1e-5);
            assertTrue(wc.has(CpuWeight.Layout.TAPS) && wc.has(CpuWeight.Layout.WINOGRAD));
            assertFalse(wc.onHeap());
            assertEquals(3, wc.storeReads());
            assertEquals(1, store.reads("lin"));
            assertEquals(3, store.reads("conv"));
        }
    }

    /** close() frees every weight's native layouts and the scratch buffers; a weight of a closed backend refuses use. */
    @Test void closeFreesNativeMemory() {
        OpsConformanceTest.MemoryStore store = new OpsConformanceTest.MemoryStore();
        store.put("w", random(50, 36, 40, 3, 3));
        CpuOps ops = new CpuOps(2, true);
        CpuWeight w = (CpuWeight) ops.weight(store, "w");
        ops.conv2d(random(51, 1, 40, 6, 6), w, null, 1, 1, 1);
        assertTrue(w.nativeBytes() > 0 && ops.nativeScratchBytes() > 0);
        ops.close();
        assertEquals(0, w.nativeBytes());
        assertEquals(0, ops.nativeScratchBytes());
        assertEquals(0, ops.nativeWeightBytes());
        assertThrows(IllegalStateException.class, () -> ops.download(w));
    }

    /**
     * Over every case of golden set A (all networks of the tiny model), each weight is read from the checkpoint
     * once, and no weight keeps heap values next to a native layout.
     */
    @Test void goldenSetReadsEachWeightOnce() {
        Path setA = TestData.goldenA();
        GoldenSet set = GoldenSet.open(setA);
        try (AutoDIRModels models = AutoDIRModels.load(set.weightsFile(), GoldenConfig.yaml(set));
             CpuOps ops = new CpuOps()) {
            GoldenCases cases = new GoldenCases(models, StageBackends.all(ops), CLIPTokenizer.loadDefault());
            GoldenCheck.Report report = new GoldenCheck(set, cases, 0).run(new PrintStream(OutputStream.nullOutputStream()));
            assertEquals(0, report.count(GoldenCheck.Status.FAIL), "golden cases failed");
            List<CpuWeight> weights = ops.cachedWeights();
            assertTrue(weights.size() > 100, "only " + weights.size() + " weights were used");
            long withLayout = 0;
            for (CpuWeight w : weights) {
                assertEquals(1, w.storeReads(), w + " was read more than once");
                boolean native_ = w.nativeBytes() > 0;
                if (native_) withLayout++;
                assertFalse(native_ && w.onHeap(), w + " is held on the heap and natively");
            }
            assertTrue(withLayout > 50, "only " + withLayout + " weights got a native layout");
        }
    }

    /** A query with no visible key (here: every key padding) gets an output row of zeros. */
    @Test void fullyMaskedRowsGiveZeros() {
        try (CpuOps ops = new CpuOps()) {
            FloatTensor q = random(10, 2, 3, 8), k = random(11, 2, 4, 8);
            AttentionMask m = AttentionMask.of(false, new int[][] {{0, 0, 0, 0}, {1, 0, 1, 0}});
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
