package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.backend.ReferenceOps;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static dev.autodir.backend.cuda.CudaTestSupport.randomScaled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@code *_fast_*} kernels of {@link Features#fastKernels()} (vectorised, division-free LayerNorm2d, global
 * average pooling, per-channel, binary and SimpleGate) against the double-precision {@link ReferenceOps}, in both
 * storage precisions, on shapes that reach the 16-byte vector variant, the scalar (V = 1) variant for extents that
 * would misalign rows, partial tiles, batch &gt; 1, and the old kernels for mixed dtypes; each case also checks which
 * kernel the dispatch launched, so a fallback cannot pass for the fast path. Pooling is checked bit for bit across
 * two runs (no atomics). Skipped, with the reason, where no GPU is usable.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaFastKernelsTest {
    private final Map<Precision, CudaOps> backends = new EnumMap<>(Precision.class);

    @BeforeAll
    void open() {
        if (!CudaAvailability.usable()) return;
        for (Precision p : Precision.values()) {
            backends.put(p, new CudaOps(CudaOps.Options.defaults(p).withFeatures(Features.ALL)));
        }
    }

    @BeforeEach
    void needsGpu() {
        CudaTestSupport.assumeGpu();
    }

    @AfterEach
    void endStage() {
        for (CudaOps o : backends.values()) o.endStage();
    }

    @AfterAll
    void close() {
        for (CudaOps o : backends.values()) o.close();
        backends.clear();
    }

    /** Relative L2: 1e-5 for float32 storage (float32 arithmetic), 2e-3 for FP16 storage (one rounding of the output). */
    private static double tol(Precision p) {
        return CudaTestSupport.tolerance(p);
    }

    /** The input as the device stores it in precision p (rounded to FP16 in place for FP16). */
    private static FloatTensor rep(FloatTensor t, Precision p) {
        return CudaTestSupport.representable(t, p);
    }

    /**
     * The kernel the dispatch should pick for an all-{@code dtype} case whose rows are {@code rowLength} elements:
     * the 16-byte vector (8 halves, 4 floats) when rows stay aligned, else the scalar instantiation. Written out here
     * rather than taken from {@link Kernel#fast}, so the test does not share the rule it checks.
     */
    private static String fastKernel(String file, Precision dtype, long rowLength) {
        int v = dtype == Precision.FP16 ? 8 : 4;
        return file + "_fast_" + (dtype == Precision.FP16 ? "f16" : "f32") + "_v" + (rowLength % v == 0 ? v : 1);
    }

    private static String shape(FloatTensor t) {
        return Arrays.toString(t.shape());
    }

    // ---- LayerNorm2d -----------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void layerNormChannels(Precision p) {
        CudaOps ops = backends.get(p);
        // P = H*W: multiples of 8 (vector variant in both precisions), 12 (vector for FP32 only), odd (scalar); C below,
        // at and far above the channel groups per block; shapes that make the host pick each block width X = 32, 16, 8, 4
        // in FP16 on a 132-SM GPU ([2, 8, 192, 192], [4, 16, 128, 128], [2, 16, 96, 128], [2, 64, 16, 24]); batch > 1.
        // FastKernelsEmulationTest runs such shapes through the kernel sources on the CPU (in CI).
        int[][] shapes = {{2, 64, 16, 24}, {1, 130, 8, 12}, {2, 6, 5, 7}, {1, 1024, 4, 8}, {3, 3, 1, 1}, {1, 16, 3, 4},
                {2, 8, 192, 192}, {4, 16, 128, 128}, {2, 16, 96, 128}, {1, 64, 40, 40}};
        for (int[] s : shapes) {
            for (double shift : new double[] {0, 20}) {   // a common offset: the shifted sums must keep their accuracy
                FloatTensor x = rep(randomScaled(s[1] * 31L + s[2], 1.5, shift, s), p);
                FloatTensor g = rep(randomScaled(s[1] + 5L, 0.5, 1, s[1]), p), b = rep(random(s[1] + 6L, s[1]), p);
                Tensor y = ops.layerNormChannels(ops.upload(x), ops.upload(g), ops.upload(b), 1e-6f);
                String what = "layerNormChannels " + p + " " + Arrays.toString(s) + " shift " + shift;
                assertEquals(fastKernel("layer_norm_channels", p, (long) s[2] * s[3]), ops.lastKernelLaunched(), what + ": kernel");
                assertClose(what, ops.download(y), ReferenceOps.layerNormChannels(x, g, b, 1e-6f), tol(p));   // 1e-5 / 2e-3
            }
            ops.endStage();
        }
    }

    @Test
    void layerNormChannelsWithMixedDtypesTakesTheGenericKernel() {
        CudaOps ops = backends.get(Precision.FP16);
        FloatTensor x = randomScaled(40, 1.5, 3, 2, 32, 8, 8);
        FloatTensor g = rep(randomScaled(41, 0.5, 1, 32), Precision.FP16), b = rep(random(42, 32), Precision.FP16);
        Tensor y = ops.layerNormChannels(ops.uploadFloat32(x), ops.upload(g), ops.upload(b), 1e-6f);
        assertEquals("layer_norm_channels", ops.lastKernelLaunched(), "float32 x with FP16 gamma/beta: the dtype-generic kernel");
        // float32 x and y, FP16-exact gamma/beta: float32 arithmetic throughout, so the float32 tolerance
        assertClose("layerNormChannels float32 x, FP16 weights", ops.download(y), ReferenceOps.layerNormChannels(x, g, b, 1e-6f),
                tol(Precision.FP32));   // 1e-5
    }

    // ---- global average pooling ------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void globalAvgPool(Precision p) {
        CudaOps ops = backends.get(p);
        // split planes with a finishing kernel ([1, 64, 128, 128]; [1, 4, 300, 301] with more than 32 chunks a plane and
        // a plane size that is a multiple of 4 but not 8), one block per plane ([2, 256, 32, 32]), scalar ([2, 3, 5, 7])
        int[][] shapes = {{1, 64, 128, 128}, {1, 4, 300, 301}, {2, 256, 32, 32}, {2, 3, 5, 7}};
        for (int[] s : shapes) {
            for (double shift : new double[] {0, 10}) {
                FloatTensor x = rep(randomScaled(s[1] * 17L + s[3], 1, shift, s), p);
                Tensor dx = ops.upload(x);
                FloatTensor first = ops.download(ops.globalAvgPool(dx));
                String what = "globalAvgPool " + p + " " + Arrays.toString(s) + " shift " + shift;
                String last = ops.lastKernelLaunched();
                // the split shapes end with the finishing kernel (on any GPU with more than 16 SMs), the others with the fast one
                assertTrue(last.equals("global_avg_pool_finish") || last.equals(fastKernel("global_avg_pool", p, (long) s[2] * s[3])),
                        what + ": kernel " + last);
                assertClose(what, first, ReferenceOps.globalAvgPool(x), tol(p));   // 1e-5 / 2e-3
                // deterministic: fixed-order sums, no atomics
                FloatTensor second = ops.download(ops.globalAvgPool(dx));
                assertArrayEquals(bits(first), bits(second), what + ": two runs differ");
            }
            ops.endStage();
        }
        FloatTensor direct = rep(random(90, 2, 256, 32, 32), p);
        ops.globalAvgPool(ops.upload(direct));
        assertEquals(fastKernel("global_avg_pool", p, 1024), ops.lastKernelLaunched(), "small planes: one block each, no finishing kernel");
    }

    @Test
    void globalAvgPoolOfFloat32InTheFp16BackendUsesTheFloat32Kernel() {
        CudaOps ops = backends.get(Precision.FP16);
        FloatTensor x = randomScaled(91, 1, 2, 1, 8, 60, 60);
        Tensor y = ops.globalAvgPool(ops.uploadFloat32(x));
        assertEquals(Precision.FP32, ((CudaTensor) y).dtype());
        String last = ops.lastKernelLaunched();
        assertTrue(last.equals("global_avg_pool_finish") || last.equals("global_avg_pool_fast_f32_v4"), "kernel " + last);
        assertClose("globalAvgPool float32 in FP16 mode", ops.download(y), ReferenceOps.globalAvgPool(x), tol(Precision.FP32));   // 1e-5
    }

    private static int[] bits(FloatTensor t) {
        int[] b = new int[t.numel()];
        for (int i = 0; i < b.length; i++) b[i] = Float.floatToRawIntBits(t.data()[i]);
        return b;
    }

    // ---- per channel -----------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void perChannel(Precision p) {
        CudaOps ops = backends.get(p);
        // vector planes (960, 32: many short planes, small blocks), scalar planes (35), v per channel or per sample
        int[][] shapes = {{2, 64, 24, 40}, {1, 1024, 4, 8}, {2, 3, 5, 7}, {3, 5, 1, 12}};
        for (int[] s : shapes) {
            FloatTensor x = rep(random(s[1] * 13L + s[2], s), p);
            List<FloatTensor> vs = List.of(rep(randomScaled(s[1], 0.7, 0.5, s[1]), p),
                    rep(randomScaled(s[1] + 1L, 0.7, 0.5, s[0], s[1]), p),
                    rep(randomScaled(s[1] + 2L, 0.7, 0.5, s[0], s[1], 1, 1), p));
            for (FloatTensor v : vs) {
                String what = " " + p + " x " + Arrays.toString(s) + " v " + shape(v);
                String kernel = fastKernel("per_channel", p, (long) s[2] * s[3]);
                FloatTensor add = ops.download(ops.addPerChannel(ops.upload(x), ops.upload(v)));
                assertEquals(kernel, ops.lastKernelLaunched(), "addPerChannel" + what + ": kernel");
                assertClose("addPerChannel" + what, add, ReferenceOps.perChannel(x, v, true), tol(p));   // 1e-5 / 2e-3
                FloatTensor mul = ops.download(ops.mulPerChannel(ops.upload(x), ops.upload(v)));
                assertEquals(kernel, ops.lastKernelLaunched(), "mulPerChannel" + what + ": kernel");
                assertClose("mulPerChannel" + what, mul, ReferenceOps.perChannel(x, v, false), tol(p));   // 1e-5 / 2e-3
            }
            ops.endStage();
        }
    }

    /**
     * A 1x1 convolution with bias: the pointwise path adds the bias in place (x == y) with the per-channel kernel. The
     * kernel is not asserted here, as the convolution paths may change; the result is.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void inPlaceBiasOfAPointwiseConvolution(Precision p) {
        CudaOps ops = backends.get(p);
        for (int[] s : new int[][] {{2, 16, 12, 20}, {1, 16, 5, 7}}) {
            FloatTensor x = rep(random(s[3], s), p), w = rep(randomScaled(s[3] + 1L, 0.25, 0, 24, s[1], 1, 1), p);
            FloatTensor bias = rep(randomScaled(s[3] + 2L, 1, 0.5, 24), p);
            FloatTensor y = ops.download(ops.conv2d(ops.upload(x), ops.upload(w), ops.upload(bias), 1, 0, 1));
            assertClose("conv2d 1x1 + bias " + p + " " + Arrays.toString(s), y, ReferenceOps.conv2d(x, w, bias, 1, 0, 1), tol(p));   // 1e-5 / 2e-3
            ops.endStage();
        }
    }

    @Test
    void perChannelWithMixedDtypesTakesTheGenericKernel() {
        CudaOps ops = backends.get(Precision.FP16);
        FloatTensor x = random(50, 2, 8, 4, 4), v = rep(random(51, 8), Precision.FP16);
        Tensor y = ops.mulPerChannel(ops.uploadFloat32(x), ops.upload(v));
        assertEquals("per_channel", ops.lastKernelLaunched(), "float32 x, FP16 v: the dtype-generic kernel");
        assertClose("mulPerChannel float32 x, FP16 v", ops.download(y), ReferenceOps.perChannel(x, v, false), tol(Precision.FP32));   // 1e-5
    }

    // ---- add / mul -------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void addAndMul(Precision p) {
        CudaOps ops = backends.get(p);
        // same shape (one row: vector 61440, scalar 105, scalar with many tiles 269997), b repeated over leading
        // dimensions (rows of 960 and of 59136 = CLIP's [77, 768]; rows of 35: scalar)
        int[][][] cases = {
                {{2, 64, 24, 40}, {2, 64, 24, 40}}, {{3, 5, 7}, {3, 5, 7}}, {{1, 3, 301, 299}, {1, 3, 301, 299}},
                {{2, 64, 24, 40}, {24, 40}}, {{2, 77, 768}, {77, 768}}, {{2, 3, 5, 7}, {5, 7}}};
        for (int[][] c : cases) {
            FloatTensor a = rep(random(c[0].length * 7L + c[0][c[0].length - 1], c[0]), p);
            FloatTensor b = rep(random(c[1].length * 11L + c[1][0], c[1]), p);
            String what = " " + p + " " + shape(a) + " + " + shape(b);
            FloatTensor sum = ops.download(ops.add(ops.upload(a), ops.upload(b)));
            assertEquals(fastKernel("binary", p, b.numel()), ops.lastKernelLaunched(), "add" + what + ": kernel");
            assertClose("add" + what, sum, ReferenceOps.add(a, b), tol(p));   // 1e-5 / 2e-3
            if (Arrays.equals(c[0], c[1])) {
                FloatTensor prod = ops.download(ops.mul(ops.upload(a), ops.upload(b)));
                assertEquals(fastKernel("binary", p, b.numel()), ops.lastKernelLaunched(), "mul" + what + ": kernel");
                assertClose("mul" + what, prod, ReferenceOps.mul(a, b), tol(p));   // 1e-5 / 2e-3
            }
            ops.endStage();
        }
    }

    @Test
    void addWithMixedDtypesTakesTheGenericKernel() {
        CudaOps ops = backends.get(Precision.FP16);
        FloatTensor a = random(60, 2, 8, 6, 6), b = rep(random(61, 2, 8, 6, 6), Precision.FP16);
        Tensor y = ops.add(ops.uploadFloat32(a), ops.upload(b));
        assertEquals("binary", ops.lastKernelLaunched(), "float32 + FP16: the dtype-generic kernel");
        assertEquals(Precision.FP32, ((CudaTensor) y).dtype());
        assertClose("add float32 + FP16", ops.download(y), ReferenceOps.add(a, b), tol(Precision.FP32));   // 1e-5
    }

    // ---- SimpleGate ------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void simpleGate(Precision p) {
        CudaOps ops = backends.get(p);
        // half = C*P: 61440 (vector), 105 (scalar), 8 (vector, three samples), 12 (vector for FP32 only), 9 (scalar)
        int[][] shapes = {{2, 128, 24, 40}, {2, 6, 5, 7}, {3, 4, 2, 2}, {2, 2, 3, 4}, {1, 2, 3, 3}};
        for (int[] s : shapes) {
            FloatTensor x = rep(random(s[1] * 3L + s[3], s), p);
            FloatTensor y = ops.download(ops.simpleGate(ops.upload(x)));
            String what = "simpleGate " + p + " " + Arrays.toString(s);
            assertEquals(fastKernel("simple_gate", p, (long) s[1] / 2 * s[2] * s[3]), ops.lastKernelLaunched(), what + ": kernel");
            assertClose(what, y, ReferenceOps.simpleGate(x), tol(p));   // 1e-5 / 2e-3
            ops.endStage();
        }
    }
}
