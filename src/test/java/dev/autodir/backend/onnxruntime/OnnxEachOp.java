package dev.autodir.backend.onnxruntime;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.DataType;
import dev.autodir.backend.ForwardingOps;
import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.OpsConformanceTest;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.io.WeightStore;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * A test backend that runs every operation as its own network through the onnxruntime backend: the call becomes a
 * one-operation {@link Network} whose inputs are the call's tensors, which {@link OnnxRuntimeOps#compile} records,
 * exports to ONNX and runs in a session. So the conformance suite, written once for all backends, checks each
 * operation's ONNX form against the reference. Data movement (upload, download, weights) stays on the cpu backend.
 */
public final class OnnxEachOp extends ForwardingOps {
    private static final WeightStore NO_WEIGHTS = new OpsConformanceTest.MemoryStore();
    private final OnnxRuntimeOps ort;

    public OnnxEachOp(OnnxRuntimeOps ort) {
        super(ort);
        this.ort = ort;
    }

    @Override public String name() { return "onnxruntime"; }

    @Override public void close() { ort.close(); }

    /** Runs {@code body} (one operation on the recording backend) as a network of the non-null {@code args}. */
    private Tensor once(String op, BiFunction<Ops, List<Tensor>, Tensor> body, Tensor... args) {
        List<TensorSpec> specs = new ArrayList<>();
        Map<String, Tensor> feed = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i] == null) continue;
            String name = "in" + i;
            specs.add(new TensorSpec(name, args[i].dataType() == DataType.INT32 ? DataType.INT32 : DataType.FLOAT32, args[i].shape()));
            feed.put(name, args[i]);
        }
        Network network = new Network() {
            @Override public String name() { return op; }

            @Override public List<TensorSpec> inputs() { return specs; }

            @Override public WeightStore weights() { return NO_WEIGHTS; }

            @Override public Map<String, Tensor> forward(Ops o, Map<String, Tensor> in) {
                List<Tensor> a = new ArrayList<>(Arrays.asList(new Tensor[args.length]));
                for (int i = 0; i < args.length; i++) a.set(i, in.get("in" + i));
                return Map.of("out", body.apply(o, a));
            }
        };
        try (CompiledNetwork c = ort.compile(network)) {
            return c.run(feed).get("out");
        }
    }

    @Override public Tensor reshape(Tensor x, int... shape) { return once("reshape", (o, a) -> o.reshape(a.get(0), shape), x); }

    @Override public Tensor conv2d(Tensor x, Tensor w, Tensor b, int s, int p, int g) {
        return once("conv2d", (o, a) -> o.conv2d(a.get(0), a.get(1), a.get(2), s, p, g), x, w, b);
    }

    @Override public Tensor linear(Tensor x, Tensor w, Tensor b) { return once("linear", (o, a) -> o.linear(a.get(0), a.get(1), a.get(2)), x, w, b); }

    @Override public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, AttentionMask mask) {
        AttentionMask m = mask == null ? AttentionMask.NONE : mask;
        return once("attention", (o, a) -> o.attention(a.get(0), a.get(1), a.get(2), heads, scale,
                new AttentionMask(m.causal(), a.get(3))), q, k, v, m.keyKeep());
    }

    @Override public Tensor groupNorm(Tensor x, int g, Tensor ga, Tensor be, float eps, boolean silu) {
        return once("groupNorm", (o, a) -> o.groupNorm(a.get(0), g, a.get(1), a.get(2), eps, silu), x, ga, be);
    }

    @Override public Tensor layerNorm(Tensor x, Tensor ga, Tensor be, float eps) {
        return once("layerNorm", (o, a) -> o.layerNorm(a.get(0), a.get(1), a.get(2), eps), x, ga, be);
    }

    @Override public Tensor layerNormChannels(Tensor x, Tensor ga, Tensor be, float eps) {
        return once("layerNormChannels", (o, a) -> o.layerNormChannels(a.get(0), a.get(1), a.get(2), eps), x, ga, be);
    }

    @Override public Tensor silu(Tensor x) { return once("silu", (o, a) -> o.silu(a.get(0)), x); }
    @Override public Tensor quickGelu(Tensor x) { return once("quickGelu", (o, a) -> o.quickGelu(a.get(0)), x); }
    @Override public Tensor gelu(Tensor x) { return once("gelu", (o, a) -> o.gelu(a.get(0)), x); }
    @Override public Tensor geglu(Tensor x) { return once("geglu", (o, a) -> o.geglu(a.get(0)), x); }
    @Override public Tensor simpleGate(Tensor x) { return once("simpleGate", (o, a) -> o.simpleGate(a.get(0)), x); }
    @Override public Tensor simpleGate(Tensor x, Tensor b) { return once("simpleGate", (o, a) -> o.simpleGate(a.get(0), a.get(1)), x, b); }
    @Override public Tensor add(Tensor x, Tensor y) { return once("add", (o, a) -> o.add(a.get(0), a.get(1)), x, y); }
    @Override public Tensor mul(Tensor x, Tensor y) { return once("mul", (o, a) -> o.mul(a.get(0), a.get(1)), x, y); }
    @Override public Tensor scale(Tensor x, float s) { return once("scale", (o, a) -> o.scale(a.get(0), s), x); }
    @Override public Tensor mulScalar(Tensor x, Tensor s) { return once("mulScalar", (o, a) -> o.mulScalar(a.get(0), a.get(1)), x, s); }
    @Override public Tensor exp(Tensor x) { return once("exp", (o, a) -> o.exp(a.get(0)), x); }
    @Override public Tensor softmax(Tensor x) { return once("softmax", (o, a) -> o.softmax(a.get(0)), x); }
    @Override public Tensor normalizeRows(Tensor x) { return once("normalizeRows", (o, a) -> o.normalizeRows(a.get(0)), x); }
    @Override public Tensor matmul(Tensor x, Tensor y) { return once("matmul", (o, a) -> o.matmul(a.get(0), a.get(1)), x, y); }
    @Override public Tensor argmax(Tensor x) { return once("argmax", (o, a) -> o.argmax(a.get(0)), x); }
    @Override public Tensor clamp(Tensor x, float lo, float hi) { return once("clamp", (o, a) -> o.clamp(a.get(0), lo, hi), x); }
    @Override public Tensor addPerChannel(Tensor x, Tensor v) { return once("addPerChannel", (o, a) -> o.addPerChannel(a.get(0), a.get(1)), x, v); }
    @Override public Tensor mulPerChannel(Tensor x, Tensor v) { return once("mulPerChannel", (o, a) -> o.mulPerChannel(a.get(0), a.get(1)), x, v); }

    @Override public Tensor conv2dWithInputBias(Tensor x, Tensor ib, Tensor w, Tensor b, int s, int p, int g) {
        return once("conv2dWithInputBias", (o, a) -> o.conv2dWithInputBias(a.get(0), a.get(1), a.get(2), a.get(3), s, p, g), x, ib, w, b);
    }

    @Override public Tensor addScaledPerChannel(Tensor x0, Tensor x, Tensor b, Tensor s) {
        return once("addScaledPerChannel", (o, a) -> o.addScaledPerChannel(a.get(0), a.get(1), a.get(2), a.get(3)), x0, x, b, s);
    }

    @Override public Tensor upsampleNearest2x(Tensor x) { return once("upsampleNearest2x", (o, a) -> o.upsampleNearest2x(a.get(0)), x); }
    @Override public Tensor pixelShuffle(Tensor x, int r) { return once("pixelShuffle", (o, a) -> o.pixelShuffle(a.get(0), r), x); }
    @Override public Tensor globalAvgPool(Tensor x) { return once("globalAvgPool", (o, a) -> o.globalAvgPool(a.get(0)), x); }
    @Override public Tensor pad2d(Tensor x, int t, int b, int l, int r) { return once("pad2d", (o, a) -> o.pad2d(a.get(0), t, b, l, r), x); }
    @Override public Tensor crop2d(Tensor x, int t, int l, int h, int w) { return once("crop2d", (o, a) -> o.crop2d(a.get(0), t, l, h, w), x); }

    @Override public Tensor concat(List<Tensor> parts, int dim) {
        return once("concat", (o, a) -> o.concat(a, dim), parts.toArray(new Tensor[0]));
    }

    @Override public Tensor slice(Tensor x, int dim, int from, int to) { return once("slice", (o, a) -> o.slice(a.get(0), dim, from, to), x); }
    @Override public Tensor nchwToTokens(Tensor x) { return once("nchwToTokens", (o, a) -> o.nchwToTokens(a.get(0)), x); }
    @Override public Tensor tokensToNchw(Tensor x, int h, int w) { return once("tokensToNchw", (o, a) -> o.tokensToNchw(a.get(0), h, w), x); }
    @Override public Tensor embedding(Tensor table, Tensor ids) { return once("embedding", (o, a) -> o.embedding(a.get(0), a.get(1)), table, ids); }
    @Override public Tensor gatherRows(Tensor x, Tensor rows) { return once("gatherRows", (o, a) -> o.gatherRows(a.get(0), a.get(1)), x, rows); }

    @Override public Tensor clipPixelValues(Tensor image, int size, float[] mean, float[] std) {
        return once("clipPixelValues", (o, a) -> o.clipPixelValues(a.get(0), size, mean, std), image);
    }

    @Override public Tensor timestepEmbedding(Tensor t, int dim) { return once("timestepEmbedding", (o, a) -> o.timestepEmbedding(a.get(0), dim), t); }

    @Override public Tensor cfgCombine(Tensor c, Tensor i, Tensor u, float st, float si) {
        return once("cfgCombine", (o, a) -> o.cfgCombine(a.get(0), a.get(1), a.get(2), st, si), c, i, u);
    }

    @Override public Tensor eulerAncestralStep(Tensor z, Tensor d, Tensor n, float s, float sd, float su) {
        return once("eulerAncestralStep", (o, a) -> o.eulerAncestralStep(a.get(0), a.get(1), a.get(2), s, sd, su), z, d, n);
    }
}
