package dev.autodir.backend;

import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.util.List;

/**
 * An {@link Ops} that forwards every call to another backend; subclasses override what they observe or change.
 * {@link #compile} is not forwarded: the default compiles eagerly on this wrapper, so a subclass sees the network's
 * operations; a runtime backend (onnxruntime, tensorrt) overrides it.
 */
public abstract class ForwardingOps implements Ops {
    protected final Ops inner;

    protected ForwardingOps(Ops inner) { this.inner = inner; }

    @Override public String name() { return inner.name(); }
    @Override public Precision precision() { return inner.precision(); }
    @Override public String describe() { return inner.describe(); }
    @Override public Tensor upload(FloatTensor host) { return inner.upload(host); }
    @Override public Tensor uploadFloat32(FloatTensor host) { return inner.uploadFloat32(host); }
    @Override public Tensor upload(IntTensor host) { return inner.upload(host); }
    @Override public FloatTensor download(Tensor t) { return inner.download(t); }
    @Override public IntTensor downloadInts(Tensor t) { return inner.downloadInts(t); }
    @Override public Tensor weight(WeightStore store, String key) { return inner.weight(store, key); }
    @Override public void endStage() { inner.endStage(); }
    @Override public void synchronize() { inner.synchronize(); }
    @Override public Tensor keep(Tensor t) { return inner.keep(t); }
    @Override public Tensor reshape(Tensor x, int... shape) { return inner.reshape(x, shape); }

    @Override public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, int groups) { return inner.conv2d(x, w, bias, stride, padding, groups); }

    @Override public Tensor linear(Tensor x, Tensor w, Tensor bias) { return inner.linear(x, w, bias); }

    @Override public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, AttentionMask mask) { return inner.attention(q, k, v, heads, scale, mask); }

    @Override public Tensor groupNorm(Tensor x, int g, Tensor a, Tensor b, float eps, boolean silu) { return inner.groupNorm(x, g, a, b, eps, silu); }
    @Override public Tensor layerNorm(Tensor x, Tensor a, Tensor b, float eps) { return inner.layerNorm(x, a, b, eps); }
    @Override public Tensor layerNormChannels(Tensor x, Tensor a, Tensor b, float eps) { return inner.layerNormChannels(x, a, b, eps); }
    @Override public Tensor silu(Tensor x) { return inner.silu(x); }
    @Override public Tensor quickGelu(Tensor x) { return inner.quickGelu(x); }
    @Override public Tensor gelu(Tensor x) { return inner.gelu(x); }
    @Override public Tensor geglu(Tensor x) { return inner.geglu(x); }
    @Override public Tensor simpleGate(Tensor x) { return inner.simpleGate(x); }
    @Override public Tensor add(Tensor a, Tensor b) { return inner.add(a, b); }
    @Override public Tensor mul(Tensor a, Tensor b) { return inner.mul(a, b); }
    @Override public Tensor scale(Tensor x, float s) { return inner.scale(x, s); }
    @Override public Tensor mulScalar(Tensor x, Tensor s) { return inner.mulScalar(x, s); }
    @Override public Tensor exp(Tensor x) { return inner.exp(x); }
    @Override public Tensor softmax(Tensor x) { return inner.softmax(x); }
    @Override public Tensor normalizeRows(Tensor x) { return inner.normalizeRows(x); }
    @Override public Tensor matmul(Tensor a, Tensor b) { return inner.matmul(a, b); }
    @Override public Tensor argmax(Tensor x) { return inner.argmax(x); }
    @Override public Tensor clamp(Tensor x, float lo, float hi) { return inner.clamp(x, lo, hi); }
    @Override public Tensor addPerChannel(Tensor x, Tensor v) { return inner.addPerChannel(x, v); }
    // the fused forms go to the inner backend's own implementation (a subclass observing them overrides them too)
    @Override public Tensor conv2dWithInputBias(Tensor x, Tensor ib, Tensor w, Tensor b, int st, int p, int g) { return inner.conv2dWithInputBias(x, ib, w, b, st, p, g); }
    @Override public Tensor addScaledPerChannel(Tensor a, Tensor x, Tensor b, Tensor s) { return inner.addScaledPerChannel(a, x, b, s); }
    @Override public Tensor simpleGate(Tensor x, Tensor bias) { return inner.simpleGate(x, bias); }
    @Override public Tensor mulPerChannel(Tensor x, Tensor v) { return inner.mulPerChannel(x, v); }
    @Override public Tensor upsampleNearest2x(Tensor x) { return inner.upsampleNearest2x(x); }
    @Override public Tensor pixelShuffle(Tensor x, int r) { return inner.pixelShuffle(x, r); }
    @Override public Tensor globalAvgPool(Tensor x) { return inner.globalAvgPool(x); }
    @Override public Tensor pad2d(Tensor x, int t, int b, int l, int r) { return inner.pad2d(x, t, b, l, r); }
    @Override public Tensor crop2d(Tensor x, int t, int l, int h, int w) { return inner.crop2d(x, t, l, h, w); }
    @Override public Tensor concat(List<Tensor> parts, int dim) { return inner.concat(parts, dim); }
    @Override public Tensor slice(Tensor x, int dim, int from, int to) { return inner.slice(x, dim, from, to); }
    @Override public Tensor nchwToTokens(Tensor x) { return inner.nchwToTokens(x); }
    @Override public Tensor tokensToNchw(Tensor x, int h, int w) { return inner.tokensToNchw(x, h, w); }
    @Override public Tensor embedding(Tensor table, Tensor ids) { return inner.embedding(table, ids); }
    @Override public Tensor gatherRows(Tensor x, Tensor rows) { return inner.gatherRows(x, rows); }
    @Override public Tensor clipPixelValues(Tensor image, int size, float[] mean, float[] std) { return inner.clipPixelValues(image, size, mean, std); }
    @Override public Tensor timestepEmbedding(Tensor t, int dim) { return inner.timestepEmbedding(t, dim); }
    @Override public Tensor cfgCombine(Tensor c, Tensor i, Tensor u, float st, float si) { return inner.cfgCombine(c, i, u, st, si); }
    @Override public Tensor eulerAncestralStep(Tensor z, Tensor d, Tensor n, float s, float sd, float su) { return inner.eulerAncestralStep(z, d, n, s, sd, su); }

    /** Does not close the wrapped backend. */
    @Override public void close() { }
}
