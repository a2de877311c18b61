package dev.autodir.backend.cuda;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static dev.autodir.backend.cuda.CudaTestSupport.randomScaled;
import static dev.autodir.backend.cuda.CudaTestSupport.representable;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Kernels of {@code cuda/} run on the host through {@link KernelEmulator} (g++ and the fiber-per-CUDA-thread
 * emulation in src/test/cpp/kernel_emulation.h): the kernels written without a GPU are checked here in CI before
 * any device sees them, and kernels already verified on a GPU check the emulation itself. Tolerances: relative L2
 * 1e-6 where the host computes in float32 like the device (only the order of float additions differs), 2e-3 with
 * FP16 storage (inputs are FP16 values, so the reference sees what the kernel reads).
 * Skipped, with the reason, where no g++ with C++20 is installed.
 */
class KernelEmulationTest {
    /** Every kernel this class launches, compiled two at a time before the first test. */
    @BeforeAll
    static void compile() {
        if (KernelEmulator.unavailableReason() == null) {
            KernelEmulator.prepare(Kernel.LAYER_NORM_CHANNELS, Kernel.GLOBAL_AVG_POOL, Kernel.GROUP_NORM_STATS, Kernel.CONVERT,
                    Kernel.SOFTMAX_ROWS, Kernel.CONV2D_DEPTHWISE);
        }
    }

    @BeforeEach
    void needsCompiler() {
        String reason = KernelEmulator.unavailableReason();
        assumeTrue(reason == null, () -> "no kernel emulation: " + reason);
    }

    private static FloatTensor tensor(float[] data, int... shape) { return new FloatTensor(data, shape); }

    // ---- the emulation against kernels verified on the H200 -----------------------------------------

    @ParameterizedTest(name = "half {0}")
    @ValueSource(booleans = {false, true})
    void layerNormChannelsVerifiedKernel(boolean half) {
        int b = 2, c = 12, h = 5, w = 7;
        FloatTensor x = representable(randomScaled(1, 2, 3, b, c, h, w), half ? dev.autodir.backend.Precision.FP16 : dev.autodir.backend.Precision.FP32);
        FloatTensor g = random(2, c), be = random(3, c);
        KernelEmulator.Buf xb = KernelEmulator.Buf.of(x.data(), half), yb = KernelEmulator.Buf.zeros((long) x.numel() * (half ? 2 : 4));
        long n = (long) b * h * w;
        KernelEmulator.launch(Kernel.LAYER_NORM_CHANNELS, (n + 255) / 256, 1, 1, 256, 1, 1, 0, xb, half ? 1 : 0,
                KernelEmulator.Buf.floats(g.data()), 0, KernelEmulator.Buf.floats(be.data()), 0, yb, half ? 1 : 0, (long) b, c,
                (long) h * w, 1e-6f);
        try (CpuOps cpu = new CpuOps()) {
            FloatTensor ref = cpu.download(cpu.layerNormChannels(cpu.upload(x), cpu.upload(g), cpu.upload(be), 1e-6f));
            assertClose("layer_norm_channels emulated", tensor(yb.as(half), b, c, h, w), ref, half ? 2e-3 : 1e-6);
        }
    }

    @Test
    void globalAvgPoolVerifiedKernelUsesWarpShufflesAndSharedMemory() {
        int rows = 6, plane = 1000;
        FloatTensor x = randomScaled(4, 1, 0.5, rows, plane);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros(rows * 4L);
        KernelEmulator.launch(Kernel.GLOBAL_AVG_POOL, rows, 1, 1, 256, 1, 1, 0, KernelEmulator.Buf.floats(x.data()), 0, y, 0, (long) plane);
        float[] ref = new float[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int i = 0; i < plane; i++) s += x.data()[r * plane + i];
            ref[r] = (float) (s / plane);
        }
        assertClose("global_avg_pool emulated", tensor(y.asFloats(), rows), tensor(ref, rows), 1e-6);   // float32 sums of 1000 terms
    }

    @ParameterizedTest(name = "half {0} silu {1}")
    @CsvSource({"false, true", "true, false"})
    void groupNormVerifiedKernelPair(boolean half, boolean silu) {
        int b = 2, c = 6, groups = 3, plane = 9000;   // groups of 18000: two splits
        dev.autodir.backend.Precision p = half ? dev.autodir.backend.Precision.FP16 : dev.autodir.backend.Precision.FP32;
        FloatTensor x = representable(randomScaled(12, 2, 1, b, c, plane), p), g = random(13, c), be = random(14, c);
        long groupLen = (long) (c / groups) * plane;
        int splits = (int) Math.max(1, Math.min(128, groupLen / 8192)), bg = b * groups, hf = half ? 1 : 0;
        KernelEmulator.Buf xb = KernelEmulator.Buf.of(x.data(), half), partial = KernelEmulator.Buf.zeros(bg * splits * 3L * 4);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros((long) x.numel() * (half ? 2 : 4));
        KernelEmulator.launch(Kernel.GROUP_NORM_STATS, splits, bg, 1, 256, 1, 1, 0, xb, hf, partial, groupLen, splits);
        KernelEmulator.launch(Kernel.GROUP_NORM_APPLY, (groupLen + CudaOps.GROUP_NORM_APPLY_CHUNK - 1) / CudaOps.GROUP_NORM_APPLY_CHUNK,
                bg, 1, 256, 1, 1, 0, xb, hf, partial, splits, KernelEmulator.Buf.floats(g.data()), 0, KernelEmulator.Buf.floats(be.data()),
                0, y, hf, groupLen, (long) plane, c / groups, groups, 1e-5f, silu ? 1 : 0);
        // Welford in float32 against float64: 1e-6; FP16 output: 2e-3
        assertClose("group_norm emulated", tensor(y.as(half), b, c, plane), Reference.groupNorm(x, groups, g, be, 1e-5, silu),
                half ? 2e-3 : 1e-6);
    }

    @Test
    void halfConversionsMatchTheJavaRounding() {
        float[] v = {0f, -0f, 1f, 1f + 0x1p-11f, 1f + 0x1p-10f + 0x1p-11f, 65504f, 65520f, 6.1e-5f, 2.9e-8f, 3.0e-8f, -1234.567f};
        KernelEmulator.Buf in = KernelEmulator.Buf.floats(v), out = KernelEmulator.Buf.zeros(v.length * 2L);
        KernelEmulator.launch(Kernel.CONVERT, 1, 1, 1, 32, 1, 1, 0, in, 0, out, 1, (long) v.length);
        float[] back = out.asHalves();
        for (int i = 0; i < v.length; i++) assertEquals(CudaTestSupport.roundToHalf(v[i]), back[i], 0f, "element " + i + " (" + v[i] + ")");
    }

    // ---- kernels written without a GPU -------------------------------------------------------------

    @ParameterizedTest(name = "rows {0} n {1} half {2}")
    @CsvSource({"3, 1000, false", "3, 1000, true", "2, 7, false", "1, 4096, true"})
    void softmaxRows(int rows, int n, boolean half) {
        FloatTensor s = randomScaled(5 + n, 4, 1, rows, n);
        KernelEmulator.Buf p = KernelEmulator.Buf.zeros((long) rows * n * (half ? 2 : 4));
        KernelEmulator.launch(Kernel.SOFTMAX_ROWS, rows, 1, 1, 256, 1, 1, 0, KernelEmulator.Buf.floats(s.data()), p, half ? 1 : 0, n);
        float[] ref = new float[rows * n];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < n; j++) max = Math.max(max, s.data()[r * n + j]);
            for (int j = 0; j < n; j++) sum += Math.exp(s.data()[r * n + j] - max);
            for (int j = 0; j < n; j++) ref[r * n + j] = (float) (Math.exp(s.data()[r * n + j] - max) / sum);
        }
        // float32 exp and sums against float64: 1e-6 relative L2; FP16 probabilities: 2e-3
        assertClose("softmax_rows emulated", tensor(p.as(half), rows, n), tensor(ref, rows, n), half ? 2e-3 : 1e-6);
    }

    @ParameterizedTest(name = "B{0} C{1} {2}x{3} k{4} s{5} p{6} bias {7} half {8} input bias {9}")
    @CsvSource({
            "2, 3, 70, 45, 3, 1, 1, true, false, false",    // several 32x32 tiles, ragged right and bottom edges, batch 2
            "1, 2, 37, 33, 3, 2, 1, true, false, false",    // stride 2: a wider input tile
            "1, 2, 20, 21, 5, 1, 2, false, false, false",   // 5x5, no bias
            "1, 2, 9, 40, 7, 1, 3, true, false, false",     // 7x7, the largest filter
            "2, 2, 33, 34, 3, 1, 1, true, true, false",     // FP16 storage
            "1, 1, 6, 5, 3, 1, 0, true, false, false",      // no padding: a 4x3 output
            "2, 3, 40, 35, 3, 1, 1, true, false, true",     // input bias (a folded 1x1 bias): not added to the padding
            "1, 2, 33, 34, 3, 2, 1, true, true, true",      // input bias, stride 2, FP16
    })
    void depthwiseConvolution(int b, int c, int h, int w, int k, int stride, int pad, boolean withBias, boolean half, boolean inBias) {
        dev.autodir.backend.Precision p = half ? dev.autodir.backend.Precision.FP16 : dev.autodir.backend.Precision.FP32;
        FloatTensor x = representable(random(6 + h, b, c, h, w), p), wt = representable(randomScaled(7, 0.3, 0, c, 1, k, k), p);
        FloatTensor bias = withBias ? representable(random(8, c), p) : null;
        FloatTensor ib = inBias ? representable(random(9, c), p) : null;
        int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
        long[] l = CudaOps.depthwiseLaunch(b, c, c, c, k, k, stride, ho, wo);
        assertNotNull(l, "depthwise launch refused");
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros((long) b * c * ho * wo * (half ? 2 : 4));
        int hf = half ? 1 : 0;
        KernelEmulator.launch(Kernel.CONV2D_DEPTHWISE, l[0], l[1], l[2], 32, 8, 1, (int) l[3],
                KernelEmulator.Buf.of(x.data(), half), hf, inBias ? KernelEmulator.Buf.of(ib.data(), half) : null, hf, inBias ? 1 : 0,
                KernelEmulator.Buf.of(wt.data(), half), hf,
                withBias ? KernelEmulator.Buf.of(bias.data(), half) : null, hf, withBias ? 1 : 0, y, hf, c, h, w, k, k, stride, pad, ho, wo);
        FloatTensor shifted = x;
        if (inBias) {   // x + ib per channel, before the zero padding
            shifted = FloatTensor.zeros(x.shape());
            int plane = h * w;
            for (int i = 0; i < x.numel(); i++) shifted.data()[i] = x.data()[i] + ib.data()[(i / plane) % c];
        }
        FloatTensor ref = Reference.conv2d(shifted, wt, bias, stride, pad, c);
        // float32 accumulation of at most 49 products against float64: 1e-6; FP16 output rounding: 2e-3
        assertClose("conv2d_depthwise emulated", tensor(y.as(half), b, c, ho, wo), ref, half ? 2e-3 : 1e-6);
    }

    @ParameterizedTest(name = "B{0} C{1} G{2} plane {3} silu {4} half {5} shift {6}")
    @CsvSource({
            "2, 8, 2, 64, false, false, 0",
            "1, 6, 3, 72, true, false, 0",
            "2, 8, 4, 40, true, true, 0",
            "1, 4, 1, 4096, false, false, 0",   // one group of 16384: several splits, partial last split
            "1, 4, 2, 2048, true, true, 30",     // a large mean against a unit spread (the shifted sums' case)
            "1, 4, 2, 2048, false, false, 30",
    })
    void groupNormFast(int b, int c, int groups, int plane, boolean silu, boolean half, double shift) {
        dev.autodir.backend.Precision p = half ? dev.autodir.backend.Precision.FP16 : dev.autodir.backend.Precision.FP32;
        FloatTensor x = representable(randomScaled(9 + plane, 1.5, shift, b, c, plane), p);
        FloatTensor g = random(10, c), be = random(11, c);
        long groupLen = (long) (c / groups) * plane;
        assertTrue(CudaOps.groupNormFastFits(p, p, plane, groupLen, 0, 256), "fast path refused");
        int splits = (int) Math.max(1, Math.min(128, groupLen / 8192));   // as CudaOps.groupNorm chooses
        int bg = b * groups, hf = half ? 1 : 0;
        KernelEmulator.Buf xb = KernelEmulator.Buf.of(x.data(), half), partial = KernelEmulator.Buf.zeros(bg * splits * 3L * 4);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros((long) x.numel() * (half ? 2 : 4));
        KernelEmulator.launch(Kernel.GROUP_NORM_STATS_FAST, splits, bg, 1, 256, 1, 1, 0, xb, hf, partial, groupLen, splits);
        KernelEmulator.launch(Kernel.GROUP_NORM_APPLY_FAST, (groupLen + CudaOps.GROUP_NORM_APPLY_CHUNK - 1) / CudaOps.GROUP_NORM_APPLY_CHUNK,
                bg, 1, 256, 1, 1, 0, xb, hf, partial, splits, KernelEmulator.Buf.floats(g.data()), 0, KernelEmulator.Buf.floats(be.data()), 0,
                y, groupLen, plane, c / groups, groups, 1e-5f, silu ? 1 : 0);
        FloatTensor ref = Reference.groupNorm(x, groups, g, be, 1e-5, silu);
        // float32 statistics against float64: 1e-5 (the shifted sum of squares costs a little over plain float32 sums);
        // FP16 output: 2e-3
        assertClose("group_norm fast emulated", tensor(y.as(half), b, c, plane), ref, half ? 2e-3 : 1e-5);
    }

    @Test
    void groupNormFastRefusesWhatItCannotDo() {
        assertFalse(CudaOps.groupNormFastFits(dev.autodir.backend.Precision.FP16, dev.autodir.backend.Precision.FP32, 64, 64, 0, 0));
        assertFalse(CudaOps.groupNormFastFits(dev.autodir.backend.Precision.FP16, dev.autodir.backend.Precision.FP16, 60, 120, 0, 0));
        assertFalse(CudaOps.groupNormFastFits(dev.autodir.backend.Precision.FP32, dev.autodir.backend.Precision.FP32, 64, 64, 8, 0));
        assertTrue(CudaOps.groupNormFastFits(dev.autodir.backend.Precision.FP32, dev.autodir.backend.Precision.FP32, 4, 8, 16, 32));
    }

    @Test
    void depthwiseLaunchRefusesWhatTheKernelCannotDo() {
        assertEquals(null, CudaOps.depthwiseLaunch(1, 4, 4, 2, 3, 3, 1, 8, 8));        // grouped, not depthwise
        assertEquals(null, CudaOps.depthwiseLaunch(1, 4, 4, 4, 9, 9, 1, 8, 8));        // filter above 7x7
        assertEquals(null, CudaOps.depthwiseLaunch(1, 4, 4, 4, 3, 3, 4, 8, 8));        // stride 4: tile over 47 KiB
        assertArrayEquals(new long[] {2, 1, 8, 34 * 34 * 4}, CudaOps.depthwiseLaunch(2, 4, 4, 4, 3, 3, 1, 20, 40));
    }
}
