package dev.autodir.backend.cpu;

import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import static dev.autodir.backend.cpu.CpuTensors.cpu;

/**
 * The cpu backend's activations, elementwise and per-channel arithmetic (Vector API loops), and the row-wise
 * reductions and small products of activations (softmax, L2 normalisation, argmax, matmul).
 */
final class CpuElementwise {
    private final Parallel parallel;

    CpuElementwise(Parallel parallel) { this.parallel = parallel; }

    Tensor silu(Tensor x) { return unary(x, "silu", VectorMath.Unary.SILU); }

    Tensor quickGelu(Tensor x) { return unary(x, "quickGelu", VectorMath.Unary.QUICK_GELU); }

    Tensor gelu(Tensor x) { return unary(x, "gelu", VectorMath.Unary.GELU); }

    private Tensor unary(Tensor xt, String op, VectorMath.Unary kind) {
        FloatTensor x = cpu(xt, op, "x");
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] xd = x.data(), od = out.data();
        parallel.forRange(x.numel(), 8, (i0, i1) -> VectorMath.apply(kind, xd, i0, od, i0, i1 - i0));
        return out;
    }

    Tensor geglu(Tensor xt) {
        FloatTensor x = cpu(xt, "geglu", "x");
        FloatTensor out = FloatTensor.zeros(Shapes.lastHalf("geglu", x.shape()));
        int width = x.dim(-1), half = width / 2;
        if (half == 0) return out;
        int rows = x.numel() / width;
        float[] xd = x.data(), od = out.data();
        parallel.forRange(rows, (long) half * 8, (r0, r1) -> {
            for (int r = r0; r < r1; r++) VectorMath.mulGelu(xd, r * width, xd, r * width + half, od, r * half, half);
        });
        return out;
    }

    Tensor simpleGate(Tensor xt) {
        FloatTensor x = cpu(xt, "simpleGate", "x");
        Shapes.simpleGate(x.shape(), null);
        int batch = x.dim(0), half = x.dim(1) / 2, plane = x.dim(2) * x.dim(3), n = half * plane;
        FloatTensor out = FloatTensor.zeros(batch, half, x.dim(2), x.dim(3));
        float[] xd = x.data(), od = out.data();
        for (int bi = 0; bi < batch; bi++) {
            int src = bi * 2 * n, dst = bi * n;
            parallel.forRange(n, 1, (i0, i1) -> VectorMath.mul(xd, src + i0, xd, src + n + i0, od, dst + i0, i1 - i0));
        }
        return out;
    }

    /** SimpleGate of x + bias in one pass. */
    Tensor simpleGate(Tensor xt, Tensor bt) {
        if (bt == null) return simpleGate(xt);
        FloatTensor x = cpu(xt, "simpleGate", "x"), b = cpu(bt, "simpleGate", "bias");
        Shapes.simpleGate(x.shape(), b.shape());
        int batch = x.dim(0), half = x.dim(1) / 2, plane = x.dim(2) * x.dim(3);
        FloatTensor out = FloatTensor.zeros(batch, half, x.dim(2), x.dim(3));
        float[] xd = x.data(), bd = b.data(), od = out.data();
        parallel.forRange(batch * half, plane, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int bi = p / half, c = p % half, lo = (bi * 2 * half + c) * plane, hi = lo + half * plane, dst = p * plane;
                float b1 = bd[c], b2 = bd[half + c];
                for (int i = 0; i < plane; i++) od[dst + i] = (xd[lo + i] + b1) * (xd[hi + i] + b2);
            }
        });
        return out;
    }

    Tensor add(Tensor at, Tensor bt) {
        FloatTensor a = cpu(at, "add", "a"), b = cpu(bt, "add", "b");
        FloatTensor out = FloatTensor.zeros(Shapes.add(a.shape(), b.shape()));
        int n = b.numel();
        if (n == 0) return out;
        int reps = a.numel() / n;
        float[] ad = a.data(), bd = b.data(), od = out.data();
        if (reps == 1) {
            parallel.forRange(n, 1, (i0, i1) -> VectorMath.add(ad, i0, bd, i0, od, i0, i1 - i0));
        } else {
            parallel.forRange(reps, n, (r0, r1) -> {
                for (int r = r0; r < r1; r++) VectorMath.add(ad, r * n, bd, 0, od, r * n, n);
            });
        }
        return out;
    }

    Tensor mul(Tensor at, Tensor bt) {
        FloatTensor a = cpu(at, "mul", "a"), b = cpu(bt, "mul", "b");
        FloatTensor out = FloatTensor.zeros(Shapes.same("mul", a.shape(), b.shape()));
        float[] ad = a.data(), bd = b.data(), od = out.data();
        parallel.forRange(a.numel(), 1, (i0, i1) -> VectorMath.mul(ad, i0, bd, i0, od, i0, i1 - i0));
        return out;
    }

    Tensor scale(Tensor xt, float s) {
        FloatTensor x = cpu(xt, "scale", "x");
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] xd = x.data(), od = out.data();
        parallel.forRange(x.numel(), 1, (i0, i1) -> VectorMath.mulScalar(xd, i0, s, od, i0, i1 - i0));
        return out;
    }

    Tensor clamp(Tensor xt, float lo, float hi) {
        FloatTensor x = cpu(xt, "clamp", "x");
        FloatTensor out = FloatTensor.zeros(Shapes.clamp(x.shape(), lo, hi));
        float[] xd = x.data(), od = out.data();
        parallel.forRange(x.numel(), 1, (i0, i1) -> VectorMath.clamp(xd, i0, lo, hi, od, i0, i1 - i0));
        return out;
    }

    Tensor addPerChannel(Tensor xt, Tensor vt) { return perChannel(xt, vt, "addPerChannel", true); }

    /** a + (x + bias)·scale in one pass (the same float operations, in the same order, as the composed default). */
    Tensor addScaledPerChannel(Tensor at, Tensor xt, Tensor bt, Tensor st) {
        String op = "addScaledPerChannel";
        FloatTensor a = cpu(at, op, "a"), x = cpu(xt, op, "x"), s = cpu(st, op, "scale");
        FloatTensor b = bt == null ? null : cpu(bt, op, "bias");
        Shapes.addScaledPerChannel(a.shape(), x.shape(), b == null ? null : b.shape(), s.shape());
        int batch = x.dim(0), channels = x.dim(1), plane = x.dim(2) * x.dim(3);
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] ad = a.data(), xd = x.data(), sd = s.data(), od = out.data();
        float[] bd = b == null ? null : b.data();
        parallel.forRange(batch * channels, plane, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int c = p % channels, base = p * plane;
                float bias = bd == null ? 0f : bd[c], sc = sd[c];
                for (int i = base; i < base + plane; i++) od[i] = ad[i] + (xd[i] + bias) * sc;
            }
        });
        return out;
    }

    Tensor mulPerChannel(Tensor xt, Tensor vt) { return perChannel(xt, vt, "mulPerChannel", false); }

    private Tensor perChannel(Tensor xt, Tensor vt, String op, boolean add) {
        FloatTensor x = cpu(xt, op, "x"), v = cpu(vt, op, "v");
        Shapes.perChannelOperand(op, x.shape(), v.shape());
        int batch = x.dim(0), channels = x.dim(1), plane = x.dim(2) * x.dim(3);
        boolean perImage = v.numel() == batch * channels;
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] xd = x.data(), vd = v.data(), od = out.data();
        parallel.forRange(batch * channels, plane, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                float s = vd[perImage ? p : p % channels];
                if (add) VectorMath.addScalar(xd, p * plane, s, od, p * plane, plane);
                else VectorMath.mulScalar(xd, p * plane, s, od, p * plane, plane);
            }
        });
        return out;
    }

    // ---- row-wise reductions and small products of activations (CLIP's logits, BIQA's mix) -----------

    Tensor argmax(Tensor xt) {
        int[] s = xt.shape();
        Shapes.argmax(s);
        int rows = s[0], n = s[1];
        int[] out = new int[rows];
        if (xt instanceof IntTensor it) {
            for (int r = 0; r < rows; r++) {
                int best = 0;
                for (int j = 1; j < n; j++) if (it.data()[r * n + j] > it.data()[r * n + best]) best = j;
                out[r] = best;
            }
        } else {
            float[] d = cpu(xt, "argmax", "x").data();
            for (int r = 0; r < rows; r++) {
                int best = 0;
                for (int j = 1; j < n; j++) if (d[r * n + j] > d[r * n + best]) best = j;   // the first maximum, as torch
                out[r] = best;
            }
        }
        return new IntTensor(out, rows);
    }

    Tensor softmax(Tensor xt) {
        FloatTensor x = cpu(xt, "softmax", "x");
        int n = Shapes.lastDim("softmax", x.shape())[x.rank() - 1];
        float[] d = x.data(), o = new float[d.length];
        for (int r = 0; n > 0 && r < d.length / n; r++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) max = Math.max(max, d[r * n + j]);
            double sum = 0;
            for (int j = 0; j < n; j++) {
                o[r * n + j] = (float) Math.exp(d[r * n + j] - max);
                sum += o[r * n + j];
            }
            float inv = (float) sum;
            for (int j = 0; j < n; j++) o[r * n + j] = o[r * n + j] / inv;
        }
        return new FloatTensor(o, x.shape());
    }

    Tensor normalizeRows(Tensor xt) {
        FloatTensor x = cpu(xt, "normalizeRows", "x");
        int n = Shapes.lastDim("normalizeRows", x.shape())[x.rank() - 1];
        float[] d = x.data(), o = new float[d.length];
        for (int r = 0; n > 0 && r < d.length / n; r++) {
            double ss = 0;
            for (int j = 0; j < n; j++) ss += (double) d[r * n + j] * d[r * n + j];
            float norm = (float) Math.sqrt(ss);
            for (int j = 0; j < n; j++) o[r * n + j] = d[r * n + j] / norm;
        }
        return new FloatTensor(o, x.shape());
    }

    Tensor matmul(Tensor at, Tensor bt) {
        FloatTensor a = cpu(at, "matmul", "a"), b = cpu(bt, "matmul", "b");
        int[] y = Shapes.matmul(a.shape(), b.shape());
        int m = y[0], n = y[1], k = a.dim(1);
        float[] ad = a.data(), bd = b.data(), o = new float[m * n];
        // row by row in float32, in the order of the reduction index, as torch.mm does for these small products
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                float av = ad[i * k + p];
                int bo = p * n, oo = i * n;
                for (int j = 0; j < n; j++) o[oo + j] += av * bd[bo + j];
            }
        }
        return new FloatTensor(o, m, n);
    }

    Tensor exp(Tensor xt) {
        FloatTensor x = cpu(xt, "exp", "x");
        float[] d = x.data(), o = new float[d.length];
        for (int i = 0; i < d.length; i++) o[i] = (float) Math.exp(d[i]);
        return new FloatTensor(o, x.shape());
    }

    Tensor mulScalar(Tensor xt, Tensor st) {
        FloatTensor x = cpu(xt, "mulScalar", "x"), s = cpu(st, "mulScalar", "s");
        Shapes.scalar("mulScalar", x.shape(), s.shape());
        return scale(x, s.data()[0]);
    }
}
