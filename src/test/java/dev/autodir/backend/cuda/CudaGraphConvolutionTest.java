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
 * The cuDNN graph-API convolution path (feature convGraph) against the cpu backend, with the path forced so it runs
 * whatever the timing would pick: strides, paddings, 1x1 / 2x2 / 3x3 kernels, groups (depthwise included), batch 2,
 * odd sizes, the UNet's channel count; plus the three-way timed choice and a CUDA graph capture. Inputs are rounded
 * to FP16 first so the reference sees what the device stores. Skipped, with the reason, where no GPU is usable.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaGraphConvolutionTest {
    /** FP16 storage, float32 accumulation: rel-L2 near 5e-4 in practice; the FP16 budget of the cuda suite. */
    private static final double TOL = 2e-3;
    /** Only convGraph: no depthwise kernel (fastKernels) and no im2col candidate in the way. */
    private static final Features GRAPH_ONLY = new Features(false, false, false, true);

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

    private static CudaOps.Options options(Features f) { return CudaTestSupport.fp16ConvOptions(f); }

    private static FloatTensor half(FloatTensor t) { return representable(t, Precision.FP16); }

    private FloatTensor reference(FloatTensor x, FloatTensor w, FloatTensor b, int stride, int pad, int groups) {
        return CudaTestSupport.cpuConv2d(cpu, x, w, b, stride, pad, groups);
    }

    @ParameterizedTest(name = "B{0} Cin{1} Cout{2} {3}x{4} k{5} s{6} p{7} g{8}")
    @CsvSource({
            "2, 32, 128, 17, 13, 3, 1, 1, 1",     // batch 2, odd sizes
            "1, 64, 48, 16, 16, 3, 2, 1, 1",      // stride 2
            "1, 24, 40, 9, 11, 3, 1, 0, 1",       // padding 0, odd sizes
            "2, 16, 128, 10, 10, 1, 2, 0, 1",     // 1x1 with stride 2 (stride 1 goes to the pointwise product)
            "1, 20, 24, 15, 15, 1, 1, 1, 1",      // 1x1 with padding 1: a border of zeros
            "1, 8, 16, 12, 9, 2, 2, 1, 1",        // 2x2, stride 2, padding 1
            "2, 3, 128, 19, 23, 3, 1, 1, 1",      // 3 input channels
            "1, 64, 32, 16, 16, 3, 1, 1, 4",      // groups 4: inferred by cuDNN from x's C over w's C
            "1, 32, 32, 20, 20, 3, 1, 1, 32",     // depthwise
            "2, 320, 320, 16, 16, 3, 1, 1, 1",    // the UNet's first-level channel count
    })
    void matchesTheCpuBackend(int b, int cin, int cout, int h, int w, int k, int stride, int pad, int groups) {
        long seed = Arrays.hashCode(new int[] {b, cin, cout, h, w, k, stride, pad, groups});
        FloatTensor x = half(random(seed, b, cin, h, w));
        FloatTensor wt = half(randomScaled(seed + 1, 1 / Math.sqrt((double) cin / groups * k * k), 0, cout, cin / groups, k, k));
        FloatTensor bias = half(random(seed + 2, cout));
        String what = "graph conv B" + b + " " + cin + "x" + h + "x" + w + " -> " + cout + " k" + k + " s" + stride + " p" + pad + " g" + groups;
        try (CudaOps o = new CudaOps(options(GRAPH_ONLY))) {
            o.forceConvChoice(ConvAutotune.Choice.GRAPH);
            Tensor xd = o.upload(x), wd = o.upload(wt), bd = o.upload(bias);
            // rel-L2 ≤ 2e-3: FP16 inputs and output, float32 accumulation (see TOL)
            assertClose(what + " with bias", o.download(o.conv2d(xd, wd, bd, stride, pad, groups)), reference(x, wt, bias, stride, pad, groups), TOL);
            assertClose(what + " without bias", o.download(o.conv2d(xd, wd, null, stride, pad, groups)), reference(x, wt, null, stride, pad, groups), TOL);
            assertEquals(0, o.convChoices().lines().filter(l -> !l.startsWith("forced")).count(), "a forced path is not timed");
        }
    }

    @Test
    void threeWayTimedChoiceIsRememberedAndCorrect() {
        int b = 2, cin = 64, cout = 64, h = 32, w = 32;
        FloatTensor x = half(random(61, b, cin, h, w)), wt = half(randomScaled(62, 1 / Math.sqrt(cin * 9), 0, cout, cin, 3, 3));
        FloatTensor bias = half(random(63, cout));
        FloatTensor ref = reference(x, wt, bias, 1, 1, 1);
        try (CudaOps o = new CudaOps(options(Features.ALL))) {
            Tensor xd = o.upload(x), wd = o.upload(wt), bd = o.upload(bias);
            for (int i = 0; i < 2; i++) {
                // rel-L2 ≤ 2e-3 whichever path won (see TOL)
                assertClose("timed conv, call " + i, o.download(o.conv2d(xd, wd, bd, 1, 1, 1)), ref, TOL);
            }
            String choices = o.convChoices();
            assertEquals(1, choices.lines().count(), "one shape, timed once: " + choices);
            assertTrue(choices.startsWith("B2 64x32x32 -> 64 k3x3 s1 p1 FP16"), choices);
            // every path timed: none of the candidates was excluded
            assertTrue(choices.matches("(?s).*\\(cuDNN \\d+\\.\\d{3} ms, im2col \\d+\\.\\d{3} ms, cuDNN-graph \\d+\\.\\d{3} ms\\).*"), choices);
        }
    }

    @Test
    void forcingTheGraphPathWhereItCannotRunNamesTheReason() {
        try (CudaOps o = new CudaOps(options(Features.NONE))) {
            Tensor x = o.upload(half(random(71, 1, 16, 12, 12))), w = o.upload(half(randomScaled(72, 0.1, 0, 16, 16, 3, 3)));
            o.download(o.conv2d(x, w, null, 1, 1, 1));
            assertEquals("", o.convChoices(), "the default path times nothing");
            o.forceConvChoice(ConvAutotune.Choice.GRAPH);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> o.conv2d(x, w, null, 1, 1, 1));
            assertTrue(e.getMessage().contains("convGraph is off"), e.getMessage());
        }
        try (CudaOps o = new CudaOps(CudaOps.Options.defaults(Precision.FP32).withFeatures(GRAPH_ONLY).withConv(CudaOps.ConvAlgorithm.CUDNN))) {
            Tensor x = o.upload(random(73, 1, 16, 12, 12)), w = o.upload(randomScaled(74, 0.1, 0, 16, 16, 3, 3));
            o.forceConvChoice(ConvAutotune.Choice.GRAPH);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> o.conv2d(x, w, null, 1, 1, 1));
            assertTrue(e.getMessage().contains("precision FP32"), e.getMessage());
        }
    }

    @Test
    void capturedGraphReplaysTheGraphPath() {
        int b = 2, cin = 32, cout = 64, h = 20, w = 18;
        try (CudaOps o = new CudaOps(options(GRAPH_ONLY))) {
            o.forceConvChoice(ConvAutotune.Choice.GRAPH);
            FloatTensor wt = half(randomScaled(81, 0.06, 0, cout, cin, 3, 3)), bias = half(random(82, cout));
            OpsConformanceTest.MemoryStore store = new OpsConformanceTest.MemoryStore().put("w", wt).put("b", bias);
            Tensor wd = o.weight(store, "w"), bd = o.weight(store, "b");   // weights outlive endStage
            CudaTensor x = o.persistent(Precision.FP16, b, cin, h, w);
            Supplier<Tensor> body = () -> o.silu(o.conv2d(x, wd, bd, 1, 1, 1));
            o.endStage();
            try (CudaGraph g = o.capture(body)) {
                for (int i = 0; i < 2; i++) {
                    FloatTensor in = half(random(83 + i, b, cin, h, w));
                    o.uploadInto(x, in);
                    g.replay();
                    FloatTensor ref = CudaTestSupport.onCpu(cpu, c -> c.silu(c.conv2d(c.upload(in), c.upload(wt), c.upload(bias), 1, 1, 1)));
                    assertClose("graph replay " + i, o.download(g.output()), ref, TOL);   // rel-L2 ≤ 2e-3 (see TOL)
                }
            }
        }
    }
}
