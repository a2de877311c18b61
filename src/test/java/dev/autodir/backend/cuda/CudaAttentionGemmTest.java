package dev.autodir.backend.cuda;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Precision;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static dev.autodir.backend.cuda.CudaTestSupport.representable;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Attention as two cuBLASLt products around softmax_rows.cu (the attentionGemm feature), forced at every head
 * width so the path is covered beyond the wide heads it is meant for: multi-head strided batches, batch > 1,
 * cross-attention (Nq ≠ Nk, Nk not a multiple of anything), query chunks (a tiny score budget), against the
 * double-precision reference at relative L2 1e-5 (FP32) / 2e-3 (FP16, inputs rounded to FP16 first).
 * Skipped, with the reason, where no GPU is usable.
 */
class CudaAttentionGemmTest {
    @BeforeEach
    void needsGpu() {
        CudaTestSupport.assumeGpu();
    }

    @ParameterizedTest(name = "{0} b={1} nq={2} nk={3} heads={4} d={5} scoreBytes={6}")
    @CsvSource({
            "FP32, 1, 300, 300, 1, 512, 268435456",    // the SD VAE's mid-block head at a small size
            "FP16, 1, 300, 300, 1, 512, 268435456",
            "FP32, 2, 70, 130, 2, 200, 268435456",
            "FP16, 2, 70, 130, 2, 200, 268435456",
            "FP32, 2, 257, 77, 8, 40, 268435456",      // UNet-like cross-attention, heads as a strided batch
            "FP16, 2, 257, 77, 8, 40, 268435456",
            "FP32, 1, 129, 129, 3, 64, 20000",         // chunks of a few query rows, the last one partial
            "FP16, 1, 129, 129, 3, 64, 20000",
            "FP16, 2, 1, 5, 1, 8, 1"                   // one query row per chunk, tiny everything
    })
    void matchesTheReference(Precision p, int b, int nq, int nk, int heads, int d, long scoreBytes) {
        int c = heads * d;
        FloatTensor q = representable(random(31 + d, b, nq, c), p), k = representable(random(32 + d, b, nk, c), p);
        FloatTensor v = representable(random(33 + d, b, nk, c), p);
        float scale = (float) (1 / Math.sqrt(d));
        double tol = CudaTestSupport.tolerance(p);   // FP32 1e-5, FP16 2e-3 relative L2
        try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(p).withFeatures(Features.ALL).withArenaBytes(256L << 20))) {
            ops.attentions().gemmMinWidth = 1;
            ops.attentions().scoreBytes = scoreBytes;
            FloatTensor out = ops.download(ops.attention(ops.upload(q), ops.upload(k), ops.upload(v), heads, scale, AttentionMask.NONE));
            assertClose("attention by products " + p + " d=" + d, out, Reference.attention(q, k, v, heads, scale, AttentionMask.NONE), tol);
            // a second call reuses the plans and the arena position: same result bit for bit
            FloatTensor again = ops.download(ops.attention(ops.upload(q), ops.upload(k), ops.upload(v), heads, scale, AttentionMask.NONE));
            assertEquals(0.0, again.relL2(out), "repeat call differs");
        }
    }

    /** A mask keeps the kernels (the product path has no mask), still right with the feature on. */
    @ParameterizedTest
    @EnumSource(Precision.class)
    void maskedAttentionStaysOnTheKernels(Precision p) {
        int b = 1, n = 50, heads = 1, d = 512, c = heads * d;
        FloatTensor q = representable(random(41, b, n, c), p), k = representable(random(42, b, n, c), p);
        FloatTensor v = representable(random(43, b, n, c), p);
        try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(p).withFeatures(Features.ALL).withArenaBytes(64L << 20))) {
            FloatTensor out = ops.download(ops.attention(ops.upload(q), ops.upload(k), ops.upload(v), heads, 0.05f, AttentionMask.CAUSAL));
            assertClose("causal attention d=512 " + p, out, Reference.attention(q, k, v, heads, 0.05f, AttentionMask.CAUSAL),
                    CudaTestSupport.tolerance(p));   // FP32 1e-5, FP16 2e-3 relative L2
        }
    }
}
