package dev.autodir.backend.cuda;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Precision;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs, without a GPU, the exact calls {@code AttentionRouting.attentionProducts} makes (strided-batched cuBLASLt products
 * in column-major terms, leading dimensions, head and chunk offsets on byte addresses, the softmax rows) through a
 * double-precision emulation of {@link Matmul.Gemm}'s documented semantics, and compares the result with the
 * attention reference at relative L2 1e-6 (both are float64 computations of the same sums, stored to float).
 * What this cannot check: cuBLASLt itself and softmax_rows.cu on a device (CudaAttentionGemmTest does, on a GPU).
 */
class AttentionProductsTest {
    /** Device memory as named float arrays at distinct base addresses; element size from the region's dtype. */
    static final class Memory {
        record Region(String name, long base, float[] data, Precision type) { }

        final List<Region> regions = new ArrayList<>();
        private long next = 1L << 20;

        long add(String name, float[] data, Precision type) {
            long base = next;
            regions.add(new Region(name, base, data, type));
            next += ((long) data.length * type.bytes() + (1L << 20)) / (1L << 20) * (1L << 20) + (1L << 20);
            return base;
        }

        /** The region holding byte address a, which must be element-aligned and of the expected dtype. */
        Region at(long a, Precision expected, String what) {
            for (Region r : regions) {
                if (a >= r.base() && a < r.base() + (long) r.data().length * r.type().bytes()) {
                    if (r.type() != expected) fail(what + " reads " + r.name() + " (" + r.type() + ") as " + expected);
                    if ((a - r.base()) % r.type().bytes() != 0) fail(what + " address not aligned to an element of " + r.name());
                    return r;
                }
            }
            fail(what + ": address " + a + " is in no buffer");
            return null;
        }

        float get(Region r, long base, long index, String what) {
            long i = (base - r.base()) / r.type().bytes() + index;
            if (i < 0 || i >= r.data().length) fail(what + " reads " + r.name() + "[" + i + "] outside its " + r.data().length);
            return r.data()[(int) i];
        }

        void set(Region r, long base, long index, float v, String what) {
            long i = (base - r.base()) / r.type().bytes() + index;
            if (i < 0 || i >= r.data().length) fail(what + " writes " + r.name() + "[" + i + "] outside its " + r.data().length);
            r.data()[(int) i] = v;
        }
    }

    /** Matmul.Gemm's semantics: D_i [m, n] (ld ldd) = alpha · op(A_i) · op(B_i), column-major, strides in elements. */
    static final class Emulator implements AttentionRouting.ProductSink {
        final Memory mem;
        int gemms, softmaxes;

        Emulator(Memory mem) { this.mem = mem; }

        @Override
        public void gemm(Matmul.Gemm g, float alpha, long a, long b, long d) {
            gemms++;
            Memory.Region ra = mem.at(a, g.in(), "A"), rb = mem.at(b, g.in(), "B"), rd = mem.at(d, g.out(), "D");
            for (int bi = 0; bi < g.batch(); bi++) {
                long ao = bi * g.strideA(), bo = bi * g.strideB(), dO = bi * g.strideD();
                for (int j = 0; j < g.n(); j++) {
                    for (int r = 0; r < g.m(); r++) {
                        double sum = 0;
                        for (int p = 0; p < g.k(); p++) {
                            long ai = g.transA() ? p + (long) r * g.lda() : r + (long) p * g.lda();
                            long bj = g.transB() ? j + (long) p * g.ldb() : p + (long) j * g.ldb();
                            sum += (double) mem.get(ra, a, ao + ai, "A") * mem.get(rb, b, bo + bj, "B");
                        }
                        mem.set(rd, d, dO + r + (long) j * g.ldd(), (float) (alpha * sum), "D");
                    }
                }
            }
        }

        @Override
        public void softmaxRows(long s, long p, Precision pType, long rows, int n) {
            softmaxes++;
            Memory.Region rs = mem.at(s, Precision.FP32, "scores"), rp = mem.at(p, pType, "probabilities");
            for (long r = 0; r < rows; r++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < n; j++) max = Math.max(max, mem.get(rs, s, r * n + j, "scores"));
                for (int j = 0; j < n; j++) sum += Math.exp(mem.get(rs, s, r * n + j, "scores") - max);
                for (int j = 0; j < n; j++) {
                    mem.set(rp, p, r * n + j, (float) (Math.exp(mem.get(rs, s, r * n + j, "scores") - max) / sum), "probabilities");
                }
            }
        }
    }

    @ParameterizedTest(name = "b={0} nq={1} nk={2} heads={3} d={4} budget={5}")
    @CsvSource({
            "1, 40, 40, 1, 64, 268435456",     // one head, one chunk (the VAE's shape, small)
            "2, 23, 17, 4, 8, 268435456",      // batch, heads as a strided batch, cross-attention
            "2, 23, 17, 4, 8, 3000",           // several query chunks, the last partial
            "1, 9, 5, 3, 5, 1",                // one query row per chunk, odd widths
    })
    void theCallsComputeAttention(int batch, int nq, int nk, int heads, int d, long budget) {
        int c = heads * d;
        FloatTensor q = random(1, batch, nq, c), k = random(2, batch, nk, c), v = random(3, batch, nk, c);
        float scale = (float) (1 / Math.sqrt(d));
        int chunk = AttentionRouting.attentionChunk(nq, nk, heads, Precision.FP32, budget);
        assertTrue(chunk >= 1 && chunk <= nq && (chunk == 1 || (long) heads * chunk * nk * 8 <= budget), "chunk " + chunk);
        Memory mem = new Memory();
        long qa = mem.add("q", q.data().clone(), Precision.FP32), ka = mem.add("k", k.data().clone(), Precision.FP32);
        long va = mem.add("v", v.data().clone(), Precision.FP32);
        float[] y = new float[batch * nq * c];
        java.util.Arrays.fill(y, Float.NaN);   // every element must be written
        long ya = mem.add("y", y, Precision.FP32);
        long sa = mem.add("s", new float[heads * chunk * nk], Precision.FP32);
        long pa = mem.add("p", new float[heads * chunk * nk], Precision.FP32);
        Emulator e = new Emulator(mem);
        AttentionRouting.attentionProducts(e, Precision.FP32, Precision.FP32, Precision.FP32, qa, ka, va, ya, sa, pa, batch, nq, nk, c,
                heads, d, scale, chunk);
        int chunks = (nq + chunk - 1) / chunk;
        assertEquals(2 * batch * chunks, e.gemms, "products");
        assertEquals(batch * chunks, e.softmaxes, "softmax launches");
        // float64 sums on both sides, stored to float: agreement to 1e-6 relative L2
        assertClose("attention by products (emulated)", new FloatTensor(y, batch, nq, c),
                Reference.attention(q, k, v, heads, scale, AttentionMask.NONE), 1e-6);
    }

    @Test
    void mixedInputAndProbabilityTypesAreRefused() {
        Emulator e = new Emulator(new Memory());
        assertThrows(IllegalArgumentException.class, () -> AttentionRouting.attentionProducts(e, Precision.FP16, Precision.FP32,
                Precision.FP16, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1f, 1));
    }

    @Test
    void gemmShapesAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> new Matmul.Gemm(Precision.FP16, Precision.FP16, false, false,
                8, 8, 8, 4, 8, 8, 1, 0, 0, 0));   // lda 4 < m 8
        assertThrows(IllegalArgumentException.class, () -> new Matmul.Gemm(Precision.FP32, Precision.FP16, false, false,
                8, 8, 8, 8, 8, 8, 1, 0, 0, 0));   // float32 inputs, FP16 output
        assertThrows(IllegalArgumentException.class, () -> new Matmul.Gemm(Precision.FP16, Precision.FP32, true, false,
                8, 8, 0, 8, 8, 8, 1, 0, 0, 0));   // k 0
    }
}
