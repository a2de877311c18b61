package dev.autodir.bench;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.ForwardingOps;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Wall time per operation kind of one evaluation (for finding where a network's time goes; {@code bench
 * --profile}). Each operation is followed by {@link Ops#synchronize()} (a device synchronisation on the cuda backend), so the sum exceeds a
 * normal run's time by the lost overlap and launch latency; the proportions are what it is for.
 */
public final class OpProfiler extends ForwardingOps {
    private final Map<String, double[]> stats = new TreeMap<>();   // kind -> {ms, calls}

    public OpProfiler(Ops inner) { super(inner); }

    private <T> T time(String kind, Supplier<T> op) {
        sync();
        long t0 = System.nanoTime();
        T out = op.get();
        sync();
        double[] s = stats.computeIfAbsent(kind, k -> new double[2]);
        s[0] += (System.nanoTime() - t0) / 1e6;
        s[1]++;
        return out;
    }

    private void sync() {
        inner.synchronize();
    }

    /** Kinds sorted by time, with calls and share. */
    public String report() {
        double total = stats.values().stream().mapToDouble(v -> v[0]).sum();
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%-22s %10s %7s %6s%n", "op", "ms", "calls", "share"));
        stats.entrySet().stream().sorted((x, y) -> Double.compare(y.getValue()[0], x.getValue()[0])).forEach(e ->
                b.append(String.format(Locale.ROOT, "%-22s %10.3f %7d %5.1f%%%n", e.getKey(), e.getValue()[0], (long) e.getValue()[1],
                        100 * e.getValue()[0] / total)));
        b.append(String.format(Locale.ROOT, "%-22s %10.3f%n", "total (synchronised)", total));
        return b.toString();
    }

    @Override public Tensor conv2d(Tensor x, Tensor w, Tensor b, int st, int p, int g) {
        int[] ws = w.shape();
        String kind = g > 1 ? "conv depthwise" : ws[2] == 1 && ws[3] == 1 ? "conv 1x1" : "conv " + ws[2] + "x" + ws[3];
        return time(kind, () -> inner.conv2d(x, w, b, st, p, g));
    }
    @Override public Tensor conv2dWithInputBias(Tensor x, Tensor ib, Tensor w, Tensor b, int st, int p, int g) {
        int[] ws = w.shape();
        String kind = g > 1 ? "conv depthwise" : ws[2] == 1 && ws[3] == 1 ? "conv 1x1" : "conv " + ws[2] + "x" + ws[3];
        return time(kind, () -> inner.conv2dWithInputBias(x, ib, w, b, st, p, g));
    }
    @Override public Tensor addScaledPerChannel(Tensor a, Tensor x, Tensor b, Tensor s) { return time("addScaledPerChannel", () -> inner.addScaledPerChannel(a, x, b, s)); }
    @Override public Tensor simpleGate(Tensor x, Tensor bias) { return time("simpleGate", () -> inner.simpleGate(x, bias)); }
    @Override public Tensor linear(Tensor x, Tensor w, Tensor b) { return time("linear", () -> inner.linear(x, w, b)); }
    @Override public Tensor attention(Tensor q, Tensor k, Tensor v, int h, float s, AttentionMask m) { return time("attention", () -> inner.attention(q, k, v, h, s, m)); }
    @Override public Tensor groupNorm(Tensor x, int g, Tensor a, Tensor b, float e, boolean silu) { return time("groupNorm", () -> inner.groupNorm(x, g, a, b, e, silu)); }
    @Override public Tensor layerNorm(Tensor x, Tensor a, Tensor b, float e) { return time("layerNorm", () -> inner.layerNorm(x, a, b, e)); }
    @Override public Tensor layerNormChannels(Tensor x, Tensor a, Tensor b, float e) { return time("layerNormChannels", () -> inner.layerNormChannels(x, a, b, e)); }
    @Override public Tensor silu(Tensor x) { return time("silu", () -> inner.silu(x)); }
    @Override public Tensor quickGelu(Tensor x) { return time("quickGelu", () -> inner.quickGelu(x)); }
    @Override public Tensor gelu(Tensor x) { return time("gelu", () -> inner.gelu(x)); }
    @Override public Tensor geglu(Tensor x) { return time("geglu", () -> inner.geglu(x)); }
    @Override public Tensor simpleGate(Tensor x) { return time("simpleGate", () -> inner.simpleGate(x)); }
    @Override public Tensor add(Tensor a, Tensor b) { return time("add", () -> inner.add(a, b)); }
    @Override public Tensor mul(Tensor a, Tensor b) { return time("mul", () -> inner.mul(a, b)); }
    @Override public Tensor scale(Tensor x, float s) { return time("scale", () -> inner.scale(x, s)); }
    @Override public Tensor addPerChannel(Tensor x, Tensor v) { return time("addPerChannel", () -> inner.addPerChannel(x, v)); }
    @Override public Tensor mulPerChannel(Tensor x, Tensor v) { return time("mulPerChannel", () -> inner.mulPerChannel(x, v)); }
    @Override public Tensor upsampleNearest2x(Tensor x) { return time("upsample", () -> inner.upsampleNearest2x(x)); }
    @Override public Tensor pixelShuffle(Tensor x, int r) { return time("pixelShuffle", () -> inner.pixelShuffle(x, r)); }
    @Override public Tensor globalAvgPool(Tensor x) { return time("globalAvgPool", () -> inner.globalAvgPool(x)); }
    @Override public Tensor pad2d(Tensor x, int t, int b, int l, int r) { return time("pad/crop", () -> inner.pad2d(x, t, b, l, r)); }
    @Override public Tensor crop2d(Tensor x, int t, int l, int h, int w) { return time("pad/crop", () -> inner.crop2d(x, t, l, h, w)); }
    @Override public Tensor concat(List<Tensor> p, int d) { return time("concat/slice", () -> inner.concat(p, d)); }
    @Override public Tensor slice(Tensor x, int d, int f, int t) { return time("concat/slice", () -> inner.slice(x, d, f, t)); }
    @Override public Tensor nchwToTokens(Tensor x) { return time("transpose", () -> inner.nchwToTokens(x)); }
    @Override public Tensor tokensToNchw(Tensor x, int h, int w) { return time("transpose", () -> inner.tokensToNchw(x, h, w)); }
}
