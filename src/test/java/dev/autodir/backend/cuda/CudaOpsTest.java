package dev.autodir.backend.cuda;

import dev.autodir.backend.OpsConformanceTest;

import dev.autodir.backend.Precision;
import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static dev.autodir.backend.cuda.CudaTestSupport.randomScaled;
import static dev.autodir.backend.cuda.CudaTestSupport.roundToHalf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The cuda kernels on the paths the conformance suite does not reach by itself: every attention kernel
 * instantiation class (flash head widths, the generic fallback, masks, long sequences), group norms large enough
 * to split their statistics, every convolution implementation, large matrix products, the FP16 conversion
 * bit for bit, the mixed-dtype sampler path, lifetimes and the arena. One subclass per precision; inputs are
 * rounded to FP16 first in the FP16 subclass so the reference sees what the device stores.
 * Skipped, with the reason, where no GPU is usable.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class CudaOpsTest {
    abstract Precision precision();

    /** The unverified fast paths this instance runs (none by default; the *UnverifiedTest subclasses turn all on). */
    Features features() { return Features.NONE; }

    CudaOps ops;

    @BeforeAll
    void open() {
        if (CudaAvailability.usable()) ops = new CudaOps(CudaOps.Options.defaults(precision()).withFeatures(features()));
    }

    /** Each test is reported as skipped with the probe's reason where no GPU is usable. */
    @BeforeEach
    void needsGpu() {
        CudaTestSupport.assumeGpu();
    }

    @AfterAll
    void close() {
        if (ops != null) ops.close();
    }

    double tol() { return CudaTestSupport.tolerance(precision()); }

    FloatTensor rep(FloatTensor t) { return CudaTestSupport.representable(t, precision()); }

    Tensor up(FloatTensor t) { return ops.upload(rep(t)); }

    // ---- conversion ----------------------------------------------------------------------------

    @Test
    void uploadDownloadRoundTripIsExactInTheStoragePrecision() {
        float[] special = {0f, -0f, 1f, -2.5f, 65504f, 65519f, 65520f, 70000f, -1e9f, 6.1e-5f, 5.96e-8f, 2.9e-8f, 3.0e-8f,
                1e-10f, 1f + 0x1p-11f, 1f + 0x1p-10f + 0x1p-11f, 1f + 0x1p-11f + 0x1p-20f, 1234.567f, Float.NaN,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        FloatTensor r = random(1, 3, 1000);
        float[] data = Arrays.copyOf(r.data(), 3000 + special.length);
        System.arraycopy(special, 0, data, 3000, special.length);
        FloatTensor host = new FloatTensor(data, data.length);
        FloatTensor back = ops.download(ops.upload(host));
        for (int i = 0; i < data.length; i++) {
            float expect = precision() == Precision.FP16 ? roundToHalf(data[i]) : data[i];
            assertEquals(Float.floatToIntBits(expect), Float.floatToIntBits(back.data()[i]),
                    "element " + i + ": " + data[i] + " came back as " + back.data()[i] + ", expected " + expect);
        }
        // float32 storage on request, whatever the precision
        assertArrayEquals(host.data(), ops.download(ops.uploadFloat32(host)).data());
        // larger than the 32 MiB staging buffer: chunked transfers
        FloatTensor big = randomScaled(2, 3, 0, 9_000_001);
        FloatTensor bigBack = ops.download(ops.upload(big));
        for (int i = 0; i < big.numel(); i += 997) {
            float expect = precision() == Precision.FP16 ? roundToHalf(big.data()[i]) : big.data()[i];
            assertEquals(expect, bigBack.data()[i], "chunked transfer, element " + i);
        }
        ops.endStage();
    }

    // ---- attention -----------------------------------------------------------------------------

    @ParameterizedTest(name = "head width {0}")
    @ValueSource(ints = {3, 8, 16, 40, 64, 80, 96, 160, 200})
    void attentionEveryHeadWidth(int d) {
        int heads = 2, b = 2, nq = 70, nk = 130, c = heads * d;
        FloatTensor q = rep(random(d, b, nq, c)), k = rep(random(d + 1, b, nk, c)), v = rep(random(d + 2, b, nk, c));
        float scale = (float) (1 / Math.sqrt(d));
        int[][] keep = new int[b][nk];
        for (int j = 0; j < nk; j++) {
            keep[0][j] = j < 100 ? 1 : 0;
            keep[1][j] = j % 3 == 1 ? 0 : 1;
        }
        List<AttentionMask> masks = List.of(AttentionMask.NONE, AttentionMask.CAUSAL, AttentionMask.of(false, keep),
                AttentionMask.of(true, keep));
        for (AttentionMask m : masks) {
            AttentionMask dm = m.keyKeep() == null ? m : new AttentionMask(m.causal(), ops.upload((IntTensor) m.keyKeep()));
            assertClose("attention D=" + d + " " + (m.causal() ? "causal " : "") + (m.keyKeep() != null ? "padding" : ""),
                    ops.download(ops.attention(ops.upload(q), ops.upload(k), ops.upload(v), heads, scale, dm)),
                    Reference.attention(q, k, v, heads, scale, m), tol());
        }
        ops.endStage();
    }

    @Test
    void attentionLongSequenceLikeTheUNet() {
        // 32x32 latent tokens, 8 heads of 40 (SD level 1 at 256 px): many key tiles per query tile
        int b = 1, n = 1024, c = 320, heads = 8;
        FloatTensor q = rep(random(10, b, n, c)), k = rep(random(11, b, n, c)), v = rep(random(12, b, n, c));
        float scale = (float) (1 / Math.sqrt(40));
        assertClose("attention 1024 tokens", ops.download(ops.attention(ops.upload(q), ops.upload(k), ops.upload(v), heads, scale,
                AttentionMask.NONE)), Reference.attention(q, k, v, heads, scale, AttentionMask.NONE), tol());
        // cross-attention to 77 tokens of context with heads of 160 (level 3)
        FloatTensor q3 = rep(random(13, 2, 64, 1280)), k3 = rep(random(14, 2, 77, 1280)), v3 = rep(random(15, 2, 77, 1280));
        float s3 = (float) (1 / Math.sqrt(160));
        assertClose("cross-attention D=160", ops.download(ops.attention(ops.upload(q3), ops.upload(k3), ops.upload(v3), 8, s3,
                AttentionMask.NONE)), Reference.attention(q3, k3, v3, 8, s3, AttentionMask.NONE), tol());
        ops.endStage();
    }

    @Test
    void maskedKeysCannotChangeTheResultEvenWhenHuge() {
        int b = 2, n = 20, c = 32, heads = 2;
        FloatTensor q = rep(random(20, b, n, c)), k = rep(random(21, b, n, c)), v = rep(random(22, b, n, c));
        int[][] keep = new int[b][n];
        for (int j = 0; j < n; j++) {
            keep[0][j] = j < 12 ? 1 : 0;
            keep[1][j] = j == 5 ? 0 : 1;
        }
        AttentionMask m = new AttentionMask(false, ops.upload(IntTensor.of(keep)));
        FloatTensor k2 = k.copy(), v2 = v.copy();
        for (int bi = 0; bi < b; bi++) {
            for (int j = 0; j < n; j++) {
                if (keep[bi][j] != 0) continue;
                for (int e = 0; e < c; e++) {
                    k2.data()[(bi * n + j) * c + e] = 1e4f;
                    v2.data()[(bi * n + j) * c + e] = 1e6f;     // inf once stored as FP16
                }
            }
        }
        float[] a = ops.download(ops.attention(ops.upload(q), ops.upload(k), ops.upload(v), heads, 0.3f, m)).data();
        float[] bb = ops.download(ops.attention(ops.upload(q), ops.upload(k2), ops.upload(v2), heads, 0.3f, m)).data();
        assertArrayEquals(a, bb, "masked keys changed the output");
        ops.endStage();
    }

    // ---- normalisation -------------------------------------------------------------------------

    @ParameterizedTest(name = "{0} groups {1}")
    @CsvSource({
            "'1,32,96,96', 8, true, 0",        // 36864 elements per group: several statistic splits
            "'2,320,24,24', 32, false, 3",     // SD ResBlock width
            "'1,16,300,301', 4, true, 20",     // 361200 per group, a large mean
            "'2,6,5,7', 3, false, 0",
    })
    void groupNormSplitStatistics(String shapeText, int groups, boolean silu, double shift) {
        int[] shape = Arrays.stream(shapeText.split(",")).mapToInt(Integer::parseInt).toArray();
        FloatTensor x = rep(randomScaled(shape[1], 2, shift, shape));
        FloatTensor g = rep(randomScaled(5, 0.5, 1, shape[1])), b = rep(random(6, shape[1]));
        assertClose("groupNorm " + shapeText, ops.download(ops.groupNorm(ops.upload(x), groups, ops.upload(g), ops.upload(b), 1e-6f, silu)),
                Reference.groupNorm(x, groups, g, b, 1e-6, silu), tol());
        ops.endStage();
    }

    // ---- dense layers --------------------------------------------------------------------------

    List<CudaOps.ConvAlgorithm> convAlgorithms() {
        List<CudaOps.ConvAlgorithm> list = new ArrayList<>(List.of(CudaOps.ConvAlgorithm.DIRECT));
        if (precision() == Precision.FP16) list.add(CudaOps.ConvAlgorithm.IGEMM);
        list.add(CudaOps.ConvAlgorithm.CUDNN);
        return list;
    }

    @ParameterizedTest(name = "B{0} Cin{1} Cout{2} {3}x{4} k{5} s{6} p{7} g{8}")
    @CsvSource({
            "2, 32, 48, 17, 13, 3, 1, 1, 1",
            "1, 64, 64, 16, 16, 3, 2, 1, 1",
            "2, 16, 24, 9, 9, 1, 1, 0, 1",
            "1, 32, 32, 11, 10, 3, 1, 1, 32",
            "1, 8, 12, 6, 7, 3, 1, 0, 2",
            "1, 3, 5, 7, 9, 3, 1, 1, 1",
            "1, 96, 80, 20, 20, 3, 1, 1, 1",
            "2, 24, 24, 70, 45, 3, 1, 1, 24",     // depthwise over several 32x32 tiles, ragged edges, batch 2
            "1, 16, 16, 37, 33, 3, 2, 1, 16",     // depthwise, stride 2
            "1, 8, 8, 20, 21, 5, 1, 2, 8",        // depthwise 5x5
    })
    void conv2dEveryImplementation(int b, int cin, int cout, int h, int w, int k, int stride, int pad, int groups) {
        long seed = Arrays.hashCode(new int[] {b, cin, cout, h, w, k, stride, pad, groups});
        FloatTensor x = rep(random(seed, b, cin, h, w)), wt = rep(randomScaled(seed + 1, 0.3, 0, cout, cin / groups, k, k));
        FloatTensor bias = rep(random(seed + 2, cout));
        FloatTensor ref = Reference.conv2d(x, wt, bias, stride, pad, groups);
        for (CudaOps.ConvAlgorithm algo : convAlgorithms()) {
            try (CudaOps o = new CudaOps(CudaOps.Options.defaults(precision()).withConv(algo).withArenaBytes(64L << 20)
                    .withFeatures(features()))) {
                FloatTensor out = o.download(o.conv2d(o.upload(x), o.upload(wt), o.upload(bias), stride, pad, groups));
                assertClose("conv2d " + algo, out, ref, tol());
                FloatTensor noBias = o.download(o.conv2d(o.upload(x), o.upload(wt), null, stride, pad, groups));
                assertClose("conv2d " + algo + " without bias", noBias, Reference.conv2d(x, wt, null, stride, pad, groups), tol());
            }
        }
    }

    @Test
    void linearLargeAndOdd() {
        int[][] cases = {{1000, 320, 1280}, {4096, 320, 320}, {7, 5, 3}, {77, 768, 768}, {1, 1024, 768}};
        for (int[] c : cases) {
            FloatTensor x = rep(random(c[0], c[0], c[1])), w = rep(randomScaled(c[2], 0.1, 0, c[2], c[1])), b = rep(random(c[1], c[2]));
            assertClose("linear " + Arrays.toString(c), ops.download(ops.linear(ops.upload(x), ops.upload(w), ops.upload(b))),
                    Reference.linear(x, w, b), tol());
            assertClose("linear no bias " + Arrays.toString(c), ops.download(ops.linear(ops.upload(x), ops.upload(w), null)),
                    Reference.linear(x, w, null), tol());
            ops.endStage();
        }
    }

    // ---- diffusion helpers ----------------------------------------------------------------------

    @Test
    void timestepEmbeddingIsCorrectlyRoundedFloat32() {
        float[] t = {999f, 981.37f, 500.5f, 1f, 0f};
        for (int dim : new int[] {320, 7}) {
            FloatTensor out = ops.download(ops.timestepEmbedding(ops.uploadFloat32(new FloatTensor(t.clone(), t.length)), dim));
            FloatTensor ref = Reference.timestepEmbedding(t, dim);
            if (precision() == Precision.FP32) {
                assertClose("timestepEmbedding dim " + dim, out, ref, 1e-6);
            } else {
                assertClose("timestepEmbedding dim " + dim, out, ref, tol());   // FP16 storage of a float32 result
            }
            if (dim % 2 == 1) {
                for (int b = 0; b < t.length; b++) assertEquals(0f, out.data()[b * dim + dim - 1], "odd dim: zero last column");
            }
        }
        ops.endStage();
    }

    @Test
    void samplerUpdatesAreBitExactInFloat32() {
        FloatTensor cond = random(30, 2, 4, 9, 11), img = random(31, 2, 4, 9, 11), un = random(32, 2, 4, 9, 11);
        FloatTensor z = randomScaled(33, 14, 0, 2, 4, 9, 11), noise = random(34, 2, 4, 9, 11);
        // float32 tensors: exact in both precisions (FP16 mode keeps a float32 sampler state)
        FloatTensor cfg = ops.download(ops.cfgCombine(ops.uploadFloat32(cond), ops.uploadFloat32(img), ops.uploadFloat32(un), 1.5f, 1.2f));
        assertArrayEquals(Reference.cfgCombine(cond, img, un, 1.5f, 1.2f).data(), cfg.data(), "cfgCombine");
        FloatTensor step = ops.download(ops.eulerAncestralStep(ops.uploadFloat32(z), ops.uploadFloat32(cfg), ops.uploadFloat32(noise),
                14.6f, 13.1f, 2.7f));
        assertArrayEquals(Reference.eulerAncestral(z, cfg, noise, 14.6f, 13.1f, 2.7f).data(), step.data(), "eulerAncestralStep");
        FloatTensor last = ops.download(ops.eulerAncestralStep(ops.uploadFloat32(z), ops.uploadFloat32(cfg), null, 0.03f, 0f, 0f));
        assertArrayEquals(Reference.eulerAncestral(z, cfg, null, 0.03f, 0f, 0f).data(), last.data(), "eulerAncestralStep, last step");
        // a denoised prediction in the backend's precision mixed into a float32 state gives a float32 result
        Tensor den = ops.upload(rep(cfg.copy()));
        Tensor mixed = ops.eulerAncestralStep(ops.uploadFloat32(z), den, ops.uploadFloat32(noise), 14.6f, 13.1f, 2.7f);
        assertEquals(Precision.FP32, ((CudaTensor) mixed).dtype());
        assertArrayEquals(Reference.eulerAncestral(z, rep(cfg.copy()), noise, 14.6f, 13.1f, 2.7f).data(), ops.download(mixed).data());
        ops.endStage();
    }

    @Test
    void clipPixelValuesMatchesTheProcessorArithmetic() {
        FloatTensor img = randomScaled(40, 0.5, 0, 1, 3, 36, 44);
        for (int size : new int[] {32, 21, 40, 47}) {   // 40, 47 > 36: rows outside the image read 0 before normalising (47: odd padding)
            FloatTensor out = ops.download(ops.clipPixelValues(ops.uploadFloat32(img), size));
            FloatTensor ref = Reference.clipPixelValues(img, size, CudaOps.CLIP_MEAN, CudaOps.CLIP_STD);
            if (precision() == Precision.FP32) assertArrayEquals(ref.data(), out.data(), "clipPixelValues size " + size);
            else assertArrayEquals(rep(ref.copy()).data(), out.data(), "clipPixelValues size " + size);
        }
        ops.endStage();
    }

    // ---- layout at UNet sizes ---------------------------------------------------------------------

    @Test
    void tokenLayoutsAtUNetSize() {
        FloatTensor x = rep(random(50, 2, 320, 64, 64));
        Tensor tokens = ops.nchwToTokens(ops.upload(x));
        assertArrayEquals(new int[] {2, 4096, 320}, tokens.shape());
        FloatTensor t = ops.download(tokens);
        for (int i = 0; i < 5000; i++) {
            int b = i % 2, p = (i * 37) % 4096, c = (i * 11) % 320;
            assertEquals(x.data()[(b * 320 + c) * 4096 + p], t.data()[(b * 4096 + p) * 320 + c], "token layout at b" + b + " p" + p + " c" + c);
        }
        assertArrayEquals(x.data(), ops.download(ops.tokensToNchw(tokens, 64, 64)).data());
        ops.endStage();
    }

    // ---- lifetimes and memory ----------------------------------------------------------------------

    @Test
    void transientTensorsDieAtEndStage() {
        Tensor a = ops.upload(random(60, 4, 5));
        Tensor view = ops.reshape(a, 20);
        ops.endStage();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ops.silu(a));
        assertTrue(e.getMessage().contains("silu") && e.getMessage().contains("endStage"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> ops.download(view));
        CudaTensor p = ops.persistent(precision(), 4, 5);
        ops.uploadInto(p, random(61, 4, 5));
        ops.endStage();
        assertEquals(20, ops.download(p).numel(), "a persistent tensor survives endStage");
        p.close();
        assertThrows(IllegalStateException.class, () -> ops.download(p));
        CudaTensor w = (CudaTensor) ops.weight(new OpsConformanceTest.MemoryStore().put("w", random(62, 3, 3)), "w");
        ops.endStage();
        assertEquals(9, ops.download(w).numel(), "a weight survives endStage");
    }

    @Test
    void weightsAreUploadedOnce() {
        OpsConformanceTest.MemoryStore store = new OpsConformanceTest.MemoryStore().put("a", random(63, 5, 7));
        Tensor w1 = ops.weight(store, "a"), w2 = ops.weight(store, "a");
        assertEquals(1, store.reads("a"));
        assertTrue(w1 == w2);
        assertEquals(precision(), ((CudaTensor) w1).dtype());
    }

    @Test
    void arenaGrowsToTheLargestStage() {
        try (CudaOps small = new CudaOps(CudaOps.Options.defaults(precision()).withArenaBytes(1L << 20))) {
            FloatTensor x = rep(random(64, 1, 64, 128, 128));   // 2 MiB (FP16) or 4 MiB (FP32) per copy: spills
            FloatTensor expect = small.download(small.silu(small.upload(x)));
            assertTrue(small.arena().spilled(), "the first stage should have spilled");
            small.endStage();
            assertTrue(small.arena().capacity() >= x.numel() * (long) precision().bytes() * 2, "capacity " + small.arena().capacity());
            assertArrayEquals(expect.data(), small.download(small.silu(small.upload(x))).data());
            assertTrue(!small.arena().spilled(), "the second run of the stage should fit");
        }
    }

    @Test
    void closedBackendRefusesWork() {
        CudaOps o = new CudaOps(CudaOps.Options.defaults(precision()));
        Tensor t = o.upload(random(65, 3));
        o.close();
        o.close();
        assertThrows(IllegalStateException.class, () -> o.silu(t));
        assertThrows(IllegalStateException.class, () -> o.upload(random(66, 3)));
    }

    @Test
    void everyKernelSourceCompilesWithNvrtcOnThisDriver() {
        assumeTrue(precision() == Precision.FP16, "the sources are the same for both precisions: checked once, in the FP16 class");
        try (CudaOps o = new CudaOps(CudaOps.Options.defaults(precision()).withForceNvrtc(true).withArenaBytes(16L << 20))) {
            assertEquals(Kernel.all().size(), o.preloadKernels());
            assertEquals(Kernel.files().size(), o.kernelOrigins().size(), o.kernelOrigins().toString());
            assertTrue(o.kernelOrigins().values().stream().allMatch(s -> s.startsWith("nvrtc")), o.kernelOrigins().toString());
        }
    }

    @Test
    void forcedNvrtcCompilesTheSources() {
        // the run-time fallback: a few modules compiled by NVRTC for this GPU give the fatbin path's results
        try (CudaOps o = new CudaOps(CudaOps.Options.defaults(precision()).withForceNvrtc(true))) {
            FloatTensor x = rep(random(70, 2, 33, 48)), g = rep(random(71, 48)), b = rep(random(72, 48));
            FloatTensor viaNvrtc = o.download(o.layerNorm(o.upload(x), o.upload(g), o.upload(b), 1e-5f));
            FloatTensor viaFatbin = ops.download(ops.layerNorm(ops.upload(x), ops.upload(g), ops.upload(b), 1e-5f));
            // not bit for bit: another compiler may contract other multiply-adds
            assertClose("layer_norm: NVRTC vs fatbin", viaNvrtc, viaFatbin, 1e-6);
            FloatTensor q = rep(random(73, 1, 100, 80)), k = rep(random(74, 1, 90, 80));
            FloatTensor a1 = o.download(o.attention(o.upload(q), o.upload(k), o.upload(k), 2, 0.2f, AttentionMask.CAUSAL));
            assertClose("attention via NVRTC", a1, Reference.attention(q, k, k, 2, 0.2f, AttentionMask.CAUSAL), tol());
            assertTrue(o.kernelOrigins().values().stream().allMatch(s -> s.startsWith("nvrtc")), o.kernelOrigins().toString());
        }
        ops.endStage();
    }
}
