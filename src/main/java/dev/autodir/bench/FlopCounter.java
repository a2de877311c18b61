package dev.autodir.bench;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.ForwardingOps;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;

/**
 * An {@link Ops} that forwards to another backend and counts the floating-point operations of the matrix work
 * (2 per multiply-add of convolutions, linear layers and attention's two products); elementwise work is not
 * counted. Used once per benchmark to report achieved FLOP/s.
 */
public final class FlopCounter extends ForwardingOps {
    private double flops;

    public FlopCounter(Ops inner) { super(inner); }

    public double flops() { return flops; }

    @Override public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, int groups) {
        Tensor y = inner.conv2d(x, w, bias, stride, padding, groups);
        int[] ws = w.shape();
        flops += 2.0 * numel(y.shape()) * ws[1] * ws[2] * ws[3];
        return y;
    }

    @Override public Tensor conv2dWithInputBias(Tensor x, Tensor inputBias, Tensor w, Tensor bias, int stride, int padding, int groups) {
        Tensor y = inner.conv2dWithInputBias(x, inputBias, w, bias, stride, padding, groups);
        int[] ws = w.shape();
        flops += 2.0 * numel(y.shape()) * ws[1] * ws[2] * ws[3];
        return y;
    }

    @Override public Tensor linear(Tensor x, Tensor w, Tensor bias) {
        Tensor y = inner.linear(x, w, bias);
        flops += 2.0 * numel(y.shape()) * w.shape()[1];
        return y;
    }

    @Override public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, AttentionMask mask) {
        int[] qs = q.shape(), ks = k.shape();
        flops += 4.0 * qs[0] * qs[1] * ks[1] * qs[2];
        return inner.attention(q, k, v, heads, scale, mask);
    }

    private static double numel(int[] s) {
        double n = 1;
        for (int d : s) n *= d;
        return n;
    }
}
