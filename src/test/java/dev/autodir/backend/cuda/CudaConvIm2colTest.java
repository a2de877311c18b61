package dev.autodir.backend.cuda;

import dev.autodir.backend.OpsConformanceTest;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.function.Supplier;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static dev.autodir.backend.cuda.CudaTestSupport.randomScaled;
import static dev.autodir.backend.cuda.CudaTestSupport.representable;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The im2col + cuBLASLt convolution path (feature convIm2col) against the cpu backend, with the path forced so it
 * runs whatever the timing would pick: strides, paddings, 1x1 / 2x2 / 3x3 kernels, batch 2, odd sizes, column
 * buffers cut into several chunks; plus the timed choice itself and a graph capture. Inputs are rounded to FP16
 * first so the reference sees what the device stores. Skipped, with the reason, where no GPU is usable.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaConvIm2colTest {
    /** FP16 storage, float32 accumulation: rel-L2 near 5e-4 in practice; the FP16 budget of the cuda suite. */
    private static final double TOL = 2e-3;

    private CpuOps cpu;

    @BeforeAll
    void open() {
        cpu = new CpuOps(2, false);
    }

    @AfterAll
    void close() {
        if (cpu != null) cpu.close();
    }

    @BeforeEach
    void needsGpu() {
        CudaTestSupport.assumeGpu();
    }

    private static CudaOps.Options options() { return CudaTestSupport.fp16ConvOptions(Features.ALL); }

    private static FloatTensor half(FloatTensor t) { return representable(t, Precision.FP16); }

    private FloatTensor reference(FloatTensor x, FloatTensor w, FloatTensor b, int stride, int pad) {
        return CudaTestSupport.cpuConv2d(cpu, x, w, b, stride, pad, 1);
    }

    /** Runs conv2d on the forced im2col path (and with cap bytes of column buffer when cap > 0) and compares. */
    private void check(String what, int b, int cin, int cout, int h, int w, int kh, int kw, int stride, int pad, long cap) {
        long seed = Arrays.hashCode(new int[] {b, cin, cout, h, w, kh, kw, stride, pad});
        FloatTensor x = half(random(seed, b, cin, h, w));
        FloatTensor wt = half(randomScaled(seed + 1, 1 / Math.sqrt(cin * kh * kw), 0, cout, cin, kh, kw));
        FloatTensor bias = half(random(seed + 2, cout));
        try (CudaOps o = new CudaOps(options())) {
            o.forceConvChoice(ConvAutotune.Choice.IM2COL);
            if (cap > 0) o.convolutions().columnCapBytes = cap;
            Tensor xd = o.upload(x), wd = o.upload(wt), bd = o.upload(bias);
            // rel-L2 ≤ 2e-3: FP16 inputs and output, float32 accumulation (see TOL)
            assertClose(what + " with bias", o.download(o.conv2d(xd, wd, bd, stride, pad, 1)), reference(x, wt, bias, stride, pad), TOL);
            assertClose(what + " without bias", o.download(o.conv2d(xd, wd, null, stride, pad, 1)), reference(x, wt, null, stride, pad), TOL);
            assertEquals(0, o.convChoices().lines().filter(l -> !l.startsWith("forced")).count(), "a forced path is not timed");
        }
    }

    @ParameterizedTest(name = "B{0} Cin{1} Cout{2} {3}x{4} k{5}x{6} s{7} p{8}")
    @CsvSource({
            "2, 32, 128, 17, 13, 3, 3, 1, 1",    // batch 2 in one chunk, odd sizes (Cout·Ho·Wo a multiple of 128)
            "1, 64, 48, 16, 16, 3, 3, 2, 1",     // stride 2
            "1, 24, 40, 9, 11, 3, 3, 1, 0",      // padding 0, odd sizes
            "2, 16, 128, 10, 10, 1, 1, 2, 0",    // 1x1 with stride 2 (stride 1 goes to the pointwise product)
            "1, 20, 24, 15, 15, 1, 1, 1, 1",     // 1x1 with padding 1: a border of zeros
            "1, 8, 16, 12, 9, 2, 2, 1, 0",       // 2x2
            "1, 8, 16, 12, 9, 2, 2, 2, 1",       // 2x2, stride 2, padding 1
            "2, 3, 128, 19, 23, 3, 3, 1, 1",     // 3 input channels: K = 27, an odd leading dimension of the weight
            "1, 16, 24, 7, 7, 3, 3, 1, 1",       // 49 pixels: one partial warp
            "1, 48, 40, 47, 51, 3, 3, 1, 1",     // 2397 pixels: two blocks along the pixels, a partial last group of 8
    })
    void matchesTheCpuBackend(int b, int cin, int cout, int h, int w, int kh, int kw, int stride, int pad) {
        check("im2col conv", b, cin, cout, h, w, kh, kw, stride, pad, 0);
    }

    @Test
    void severalChunksPerImage() {
        // K = 32·9 = 288 rows; a cap of 256 pixels of columns (147456 bytes) cuts the 40x36 = 1440 pixels of each
        // image into 5 chunks of 256 and one of 160
        long cap = 288L * 2 * 256;
        assertEquals(12, Im2colPlan.of(2, 40 * 36, 288, cap).chunks().size());
        check("chunked stride 1", 2, 32, 128, 40, 36, 3, 3, 1, 1, cap);
        // stride 2 over 79x71: 40x36 output pixels again
        check("chunked stride 2", 2, 32, 128, 79, 71, 3, 3, 2, 1, cap);
    }

    @Test
    void wholeImagesBatchedInChunks() {
        // one image's columns: 288 rows x 1536 (1440 rounded up to 128) x 2 bytes; two fit, three do not
        long cap = 2L * 288 * 1536 * 2;
        assertEquals(2, Im2colPlan.of(3, 1440, 288, cap).chunks().size());
        check("2 + 1 images", 3, 32, 128, 40, 36, 3, 3, 1, 1, cap);
    }

    @Test
    void timedChoiceIsRememberedAndCorrect() {
        int b = 2, cin = 64, cout = 64, h = 32, w = 32;
        FloatTensor x = half(random(31, b, cin, h, w)), wt = half(randomScaled(32, 1 / Math.sqrt(cin * 9), 0, cout, cin, 3, 3));
        FloatTensor bias = half(random(33, cout));
        FloatTensor ref = reference(x, wt, bias, 1, 1);
        try (CudaOps o = new CudaOps(options())) {
            Tensor xd = o.upload(x), wd = o.upload(wt), bd = o.upload(bias);
            for (int i = 0; i < 2; i++) {
                // rel-L2 ≤ 2e-3 whichever path won (see TOL)
                assertClose("timed conv, call " + i, o.download(o.conv2d(xd, wd, bd, 1, 1, 1)), ref, TOL);
            }
            String choices = o.convChoices();
            assertEquals(1, choices.lines().count(), "one shape, timed once: " + choices);
            // Features.ALL: the cuDNN-graph candidate is timed (or excluded, with the reason) beside im2col
            assertTrue(choices.startsWith("B2 64x32x32 -> 64 k3x3 s1 p1 FP16") && choices.contains("cuDNN ")
                    && choices.contains(" ms, im2col ") && choices.matches("(?s).*(im2col|cuDNN|cuDNN-graph) \\(cuDNN .*"), choices);
        }
    }

    @Test
    void theDefaultPathTimesNothing() {
        try (CudaOps o = new CudaOps(options().withFeatures(Features.NONE))) {
            Tensor x = o.upload(half(random(41, 1, 16, 12, 12))), w = o.upload(half(randomScaled(42, 0.1, 0, 16, 16, 3, 3)));
            o.download(o.conv2d(x, w, null, 1, 1, 1));
            assertEquals("", o.convChoices());
            o.forceConvChoice(ConvAutotune.Choice.IM2COL);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> o.conv2d(x, w, null, 1, 1, 1));
            assertTrue(e.getMessage().contains("convIm2col is off"), e.getMessage());
        }
    }

    @Test
    void capturedGraphReplaysTheIm2colPath() {
        int b = 2, cin = 32, cout = 128, h = 20, w = 18;
        try (CudaOps o = new CudaOps(options())) {
            o.forceConvChoice(ConvAutotune.Choice.IM2COL);
            o.convolutions().columnCapBytes = 288L * 2 * 128;   // 3 chunks per image inside the graph
            FloatTensor wt = half(randomScaled(51, 0.06, 0, cout, cin, 3, 3)), bias = half(random(52, cout));
            OpsConformanceTest.MemoryStore store = new OpsConformanceTest.MemoryStore().put("w", wt).put("b", bias);
            Tensor wd = o.weight(store, "w"), bd = o.weight(store, "b");   // weights outlive endStage
            CudaTensor x = o.persistent(Precision.FP16, b, cin, h, w);
            Supplier<Tensor> body = () -> o.silu(o.conv2d(x, wd, bd, 1, 1, 1));
            o.endStage();
            try (CudaGraph g = o.capture(body)) {
                for (int i = 0; i < 2; i++) {
                    FloatTensor in = half(random(53 + i, b, cin, h, w));
                    o.uploadInto(x, in);
                    g.replay();
                    FloatTensor ref = CudaTestSupport.onCpu(cpu, c -> c.silu(c.conv2d(c.upload(in), c.upload(wt), c.upload(bias), 1, 1, 1)));
                    assertClose("graph replay " + i, o.download(g.output()), ref, TOL);   // rel-L2 ≤ 2e-3 (see TOL)
                }
            }
        }
    }
}
