package dev.autodir.backend.cpu;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import static dev.autodir.backend.cpu.CpuTensors.cpu;
import static dev.autodir.backend.cpu.CpuTensors.ints;

/**
 * The cpu backend's attention: one (batch, head, block of queries) item at a time per worker, q·kᵀ into a block of
 * scores, masked softmax in place, then the product with v scaled by 1/Σ. Uses the backend's shared native scratch
 * buffers: callers hold the backend's lock.
 */
final class CpuAttention {
    private final Parallel parallel;
    private final NativeFloats scratchA, scratchB, scratchC, scratchD, scratchMatrix;
    private final long scoreBlock;

    CpuAttention(Parallel parallel, NativeFloats scratchA, NativeFloats scratchB, NativeFloats scratchC, NativeFloats scratchD,
                 NativeFloats scratchMatrix, long scoreBlock) {
        this.parallel = parallel;
        this.scratchA = scratchA;
        this.scratchB = scratchB;
        this.scratchC = scratchC;
        this.scratchD = scratchD;
        this.scratchMatrix = scratchMatrix;
        this.scoreBlock = scoreBlock;
    }

    Tensor attention(Tensor qt, Tensor kt, Tensor vt, int heads, float scale, AttentionMask mask) {
        FloatTensor q = cpu(qt, "attention", "q"), k = cpu(kt, "attention", "k"), v = cpu(vt, "attention", "v");
        AttentionMask m = mask == null ? AttentionMask.NONE : mask;
        IntTensor keepT = m.keyKeep() == null ? null : ints(m.keyKeep(), "attention", "mask");
        Shapes.attention(q.shape(), k.shape(), v.shape(), heads, keepT == null ? null : keepT.shape());
        int batch = q.dim(0), nq = q.dim(1), nk = k.dim(1), width = q.dim(2);
        int[] keepAll = keepT == null ? null : keepT.data();
        FloatTensor out = FloatTensor.zeros(batch, nq, width);
        if (batch == 0 || nq == 0 || width == 0) return out;
        if (nk == 0) return out;
        int d = width / heads;
        scratchA.ensure((long) batch * nq * width).put(0, q.data(), 0, q.numel());
        scratchB.ensure((long) batch * nk * width).put(0, k.data(), 0, k.numel());
        scratchD.ensure((long) batch * nk * width).put(0, v.data(), 0, v.numel());
        NativeFloats o = scratchMatrix.ensure((long) batch * nq * width);
        int blockRows = (int) Math.max(1, Math.min(nq, scoreBlock / nk));
        int blocks = (nq + blockRows - 1) / blockRows;
        long scoreFloats = (long) blockRows * nk;
        NativeFloats scores = scratchC.ensure(scoreFloats * parallel.threads());
        // one work item = one block of queries of one head of one batch entry; each worker has its own
        // block of scores, so the products and the softmax of different items run side by side
        parallel.forWorkers(batch * heads * blocks, (long) blockRows * nk * d, (worker, item0, item1) -> {
            long sOff = worker * scoreFloats;
            float[] inv = new float[blockRows];
            for (int item = item0; item < item1; item++) {
                int bi = item / (heads * blocks), h = item / blocks % heads, i0 = item % blocks * blockRows;
                int rows = Math.min(blockRows, nq - i0);
                int[] keep = keepAll == null ? null : java.util.Arrays.copyOfRange(keepAll, bi * nk, (bi + 1) * nk);
                long qOff = ((long) bi * nq + i0) * width + (long) h * d;
                long kOff = (long) bi * nk * width + (long) h * d;
                // scores [rows, Nk] = scale · q_h · k_hᵀ
                Blas.sgemm(false, true, rows, nk, d, scale, scratchA, qOff, width, scratchB, kOff, width, 0f, scores, sOff, nk);
                for (int r = 0; r < rows; r++) {
                    int visible = m.causal() ? Math.min(nk, i0 + r + 1) : nk;
                    inv[r] = Softmax.rowUnnormalised(scores.bytes(), sOff + (long) r * nk, nk, visible, keep);
                }
                // out_h [rows, d] = (e · v_h) / Σe
                Blas.sgemm(false, false, rows, d, nk, 1f, scores, sOff, nk, scratchD, kOff, width, 0f, o, qOff, width);
                for (int r = 0; r < rows; r++) Softmax.scale(o.bytes(), qOff + (long) r * width, d, inv[r]);
            }
        });
        o.get(0, out.data(), 0, out.numel());
        return out;
    }
}
