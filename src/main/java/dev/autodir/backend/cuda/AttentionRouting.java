package dev.autodir.backend.cuda;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;

/**
 * The cuda backend's attention routing: unmasked wide heads as cuBLASLt products around a row softmax (the
 * attentionGemm feature), FP16 heads up to {@link Kernel#FLASH_MAX_WIDTH} through the flash kernel, everything else
 * (FP32, masks with wide heads) through the generic register-tiled kernel.
 */
final class AttentionRouting {
    private final CudaOps ops;
    private final CudaDevice device;
    private final CudaMemory memory;
    private final Precision precision;
    private final Features features;

    AttentionRouting(CudaOps ops, CudaDevice device, CudaMemory memory, CudaOps.Options options) {
        this.ops = ops;
        this.device = device;
        this.memory = memory;
        this.precision = options.precision();
        this.features = options.features();
    }

    /** attention (see {@link dev.autodir.backend.Ops#attention}): q, k and v cast to the backend's precision first. */
    Tensor attention(Tensor qt, Tensor kt, Tensor vt, int heads, float scale, AttentionMask mask) {
        String op = "attention";
        CudaTensor q = ops.cast(qt, op, "q"), k = ops.cast(kt, op, "k"), v = ops.cast(vt, op, "v");
        AttentionMask m = mask == null ? AttentionMask.NONE : mask;
        CudaTensor keep = m.keyKeep() == null ? null : ops.ti(m.keyKeep(), op, "mask");
        int[] shape = Shapes.attention(q.shapeRef(), k.shapeRef(), v.shapeRef(), heads, keep == null ? null : keep.shapeRef());
        int batch = q.dim(0), nq = q.dim(1), nk = k.dim(1), c = q.dim(2);
        int d = c / heads;
        CudaTensor y = ops.alloc(precision, shape);
        if (y.numel() == 0) return y;
        if (nk == 0) throw Shapes.bad(op, "no keys (the softmax of an empty row is undefined)", k.shapeRef());
        long keepAddress = keep == null ? 0 : keep.address(op);
        int causal = m.causal() ? 1 : 0;
        if (keep == null && !m.causal() && features.attentionGemm() && d >= gemmMinWidth) {
            attentionByProducts(q, k, v, y, batch, nq, nk, c, heads, d, scale, op);
        } else if (precision == Precision.FP16 && d <= Kernel.FLASH_MAX_WIDTH) {
            int dp = Kernel.flashPaddedWidth(d);
            int smem = 3 * 64 * (dp + 8) * 2;
            checkShared(op, smem);
            boolean vec = d % 8 == 0 && c % 8 == 0;
            device.launcher().kernel(Kernel.attentionFlash(d)).ptr(q, op).ptr(k, op).ptr(v, op).ptr(y, op)
                    .i32(nq).i32(nk).i32(d).i32(c).i32(c).i32(c).i32(c).ptr(keepAddress).i32(causal)
                    .f32((float) (scale * 1.4426950408889634)).i32(vec ? 1 : 0)
                    .launch((nq + 63) / 64, heads, batch, 128, 1, 1, smem);
        } else {
            if (d > Kernel.GENERIC_MAX_WIDTH) {
                throw new IllegalArgumentException(op + ": head width " + d + " exceeds " + Kernel.GENERIC_MAX_WIDTH);
            }
            int smem = (16 * d + 32 * (d | 1) + 32 * d) * 4;
            checkShared(op, smem);
            device.launcher().kernel(Kernel.attentionGeneric(precision, d)).ptr(q, op).ptr(k, op).ptr(v, op).ptr(y, op)
                    .i32(nq).i32(nk).i32(d).i32(c).i32(c).i32(c).i32(c).ptr(keepAddress).i32(causal).f32(scale)
                    .launch((nq + 15) / 16, heads, batch, 128, 1, 1, smem);
        }
        return y;
    }

    /**
     * Head width from which unmasked attention runs as products (with the attentionGemm feature): above the
     * flash kernel's widths by default; tests lower it to cover the path at every width.
     */
    int gemmMinWidth = Kernel.FLASH_MAX_WIDTH + 1;
    /** Scratch bound for one chunk of float32 scores plus probabilities (queries are taken in chunks below it). */
    long scoreBytes = 256L << 20;

    /**
     * Unmasked attention as S = scale·Q·Kᵀ (cuBLASLt, float32 out) → row softmax (float32 in, the backend's
     * precision out) → O = P·V (cuBLASLt), heads as a strided batch (a head is a column offset of d in q/k/v/y
     * rows of width c). Queries go in chunks so S and P together stay within {@link #scoreBytes}.
     * Row-major R [r, c] with row stride s is column-major [c, r] with ld s, so S's rows [rc, nk] are the
     * column-major Sᶜ [nk, rc] = Kᶜᵀ·Qᶜ, and Oᶜ [d, rc] = Vᶜ [d, nk] · Pᶜ [nk, rc].
     */
    private void attentionByProducts(CudaTensor q, CudaTensor k, CudaTensor v, CudaTensor y, int batch, int nq, int nk,
                                     int c, int heads, int d, float scale, String op) {
        int chunk = attentionChunk(nq, nk, heads, precision, scoreBytes);
        ScratchArena.Allocation sBuf = memory.allocate((long) heads * chunk * nk * 4);
        ScratchArena.Allocation pBuf = memory.allocate((long) heads * chunk * nk * precision.bytes());
        Matmul mm = ops.matmul();
        ProductSink sink = new ProductSink() {
            @Override public void gemm(Matmul.Gemm g, float alpha, long a, long b, long dst) { mm.gemm(device.stream(), g, alpha, a, b, dst); }

            @Override public void softmaxRows(long s, long p, Precision pType, long rows, int n) {
                device.launcher().kernel(Kernel.SOFTMAX_ROWS).ptr(s).ptr(p).i32(pType.halfFlag()).i32(n).launch(rows, CudaDevice.THREADS);
            }
        };
        attentionProducts(sink, q.dtype(), precision, y.dtype(), q.address(op), k.address(op), v.address(op), y.address(op),
                sBuf.address(), pBuf.address(), batch, nq, nk, c, heads, d, scale, chunk);
        memory.release(pBuf);
        memory.release(sBuf);
    }

    /** Where {@link #attentionProducts} sends its work: the device here, a float32 emulation in the tests. */
    interface ProductSink extends Matmul.GemmSink {
        /** rows of n float32 scores at s → probabilities at p in pType. */
        void softmaxRows(long s, long p, Precision pType, long rows, int n);
    }

    /** Query rows per chunk so that heads × chunk × nk scores (float32) plus probabilities fit {@code budget} bytes. */
    static int attentionChunk(int nq, int nk, int heads, Precision pType, long budget) {
        long perRow = (long) heads * nk * (4 + pType.bytes());
        return (int) Math.max(1, Math.min(nq, budget / perRow));
    }

    /**
     * The calls of attention by products, on byte addresses: q [B, nq, c], k and v [B, nk, c] in {@code in}, y
     * [B, nq, c] in {@code yType}; s (float32) and p ({@code pType}) hold heads × chunk × nk scores each.
     */
    static void attentionProducts(ProductSink sink, Precision in, Precision pType, Precision yType, long q, long k, long v,
                                  long y, long s, long p, int batch, int nq, int nk, int c, int heads, int d, float scale,
                                  int chunk) {
        if (in != pType) throw new IllegalArgumentException("attention by products: inputs " + in + " with probabilities " + pType);
        long eb = in.bytes(), yb = yType.bytes();
        for (int bi = 0; bi < batch; bi++) {
            long qb = q + (long) bi * nq * c * eb, kb = k + (long) bi * nk * c * eb;
            long vb = v + (long) bi * nk * c * eb, ob = y + (long) bi * nq * c * yb;
            for (int r0 = 0; r0 < nq; r0 += chunk) {
                int rc = Math.min(chunk, nq - r0);
                // Sᶜ [nk, rc] per head = Kᶜᵀ (stored [d, nk], ld c) · Qᶜ (stored [d, rc], ld c); heads are column offsets of d
                sink.gemm(new Matmul.Gemm(in, Precision.FP32, true, false, nk, rc, d, c, c, nk, heads, d, d, (long) rc * nk),
                        scale, kb, qb + (long) r0 * c * eb, s);
                sink.softmaxRows(s, p, pType, (long) heads * rc, nk);
                // Oᶜ [d, rc] (ld c) = Vᶜ (stored [d, nk], ld c) · Pᶜ (stored [nk, rc], ld nk)
                sink.gemm(new Matmul.Gemm(pType, yType, false, false, d, rc, nk, c, nk, c, heads, d, (long) rc * nk, d),
                        1f, vb, p, ob + (long) r0 * c * yb);
            }
        }
    }

    private void checkShared(String op, int bytes) {
        if (bytes > device.maxSharedOptin) {
            throw new IllegalArgumentException(op + ": needs " + bytes + " bytes of shared memory, the device allows " + device.maxSharedOptin);
        }
    }
}
