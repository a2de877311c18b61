package dev.autodir.backend.record;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.DataType;
import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The recording backend: instead of computing, every operation appends a {@link Graph.Node} and returns a symbolic
 * {@link Graph.Value} of the inferred shape. Weights become named values keyed by their checkpoint names; host data a
 * network uploads becomes a constant. Reading back ({@link #download}) is refused: a network must not depend on values
 * on the host. Used through {@link Graph#record}.
 */
public final class RecordingOps implements Ops {
    private final Network network;
    private final List<Graph.Value> inputs = new ArrayList<>();
    private final Map<String, Graph.Value> weights = new LinkedHashMap<>();
    private final List<Graph.Value> constants = new ArrayList<>();
    private final List<Graph.Node> nodes = new ArrayList<>();
    private final Map<Tensor, Boolean> mine = new IdentityHashMap<>();
    private int nextId;
    private boolean finished;

    RecordingOps(Network network) { this.network = network; }

    Graph.Value input(TensorSpec s) {
        Graph.Value v = value(Graph.Kind.INPUT, s.type(), s.shape(), s.name(), null);
        inputs.add(v);
        return v;
    }

    Graph finish(Map<String, Tensor> out) {
        finished = true;
        Map<String, Graph.Value> outputs = new LinkedHashMap<>();
        out.forEach((name, t) -> {
            Graph.Value v = own(t, "output " + name);
            new TensorSpec(name, v.dataType() == DataType.INT32 ? DataType.INT32 : DataType.FLOAT32, v.shape()); // checks the name
            if (v.kind() != Graph.Kind.NODE) {
                throw new IllegalArgumentException(network.name() + ": output " + name + " is a " + v.kind().name().toLowerCase(java.util.Locale.ROOT)
                        + ", not computed by the network (wrap it in an operation)");
            }
            if (outputs.containsValue(v)) throw new IllegalArgumentException(network.name() + ": output " + name + " repeats another output");
            outputs.put(name, v);
        });
        return new Graph(network, inputs, weights, constants, nodes, outputs);
    }

    private Graph.Value value(Graph.Kind kind, DataType type, int[] shape, String name, Tensor data) {
        Graph.Value v = new Graph.Value(nextId++, kind, type, shape, name, data);
        mine.put(v, Boolean.TRUE);
        return v;
    }

    private Graph.Value own(Tensor t, String what) {
        if (t == null) throw new IllegalArgumentException(network.name() + ": " + what + " is null");
        if (!(t instanceof Graph.Value v) || !mine.containsKey(v)) {
            throw new IllegalArgumentException(network.name() + ": " + what + " is " + t + ", not a tensor of this recording "
                    + "(a network may only use its inputs, its weights and what its operations return)");
        }
        return v;
    }

    private Graph.Value floatIn(Tensor t, String op, String what) {
        Graph.Value v = own(t, op + " " + what);
        if (v.dataType() == DataType.INT32) throw Shapes.bad(op, what + " must be a float tensor, got int32", v.shape());
        return v;
    }

    private Graph.Value intIn(Tensor t, String op, String what) {
        Graph.Value v = own(t, op + " " + what);
        if (v.dataType() != DataType.INT32) throw Shapes.bad(op, what + " must be int32, got " + v.dataType().label(), v.shape());
        return v;
    }

    private static int[] shape(Graph.Value v) { return v == null ? null : v.shape(); }

    /** Appends a node; attrs alternate names and values. */
    private Graph.Value node(String op, DataType type, int[] shape, List<Graph.Value> in, Object... attrs) {
        if (finished) throw new IllegalStateException("recording of " + network.name() + " has finished");
        Map<String, Object> a = new LinkedHashMap<>();
        for (int i = 0; i < attrs.length; i += 2) a.put((String) attrs[i], attrs[i + 1]);
        Graph.Value out = value(Graph.Kind.NODE, type, shape, null, null);
        Graph.Node n = new Graph.Node(nodes.size(), op, in, a, out);
        out.producer = n;
        nodes.add(n);
        return out;
    }

    private Graph.Value node(String op, int[] shape, List<Graph.Value> in, Object... attrs) {
        return node(op, DataType.FLOAT32, shape, in, attrs);
    }

    private static List<Graph.Value> list(Graph.Value... vs) {
        List<Graph.Value> l = new ArrayList<>(vs.length);
        for (Graph.Value v : vs) l.add(v);
        return l;
    }

    @Override public String name() { return "record"; }

    // ---- data movement: host data becomes a constant, nothing goes back ------------------------------------------

    @Override public Tensor upload(FloatTensor host) { return constant(DataType.FLOAT32, host.shape(), host.copy()); }

    @Override public Tensor uploadFloat32(FloatTensor host) { return upload(host); }

    @Override public Tensor upload(IntTensor host) { return constant(DataType.INT32, host.shape(), host.copy()); }

    private Graph.Value constant(DataType type, int[] shape, Tensor data) {
        Graph.Value v = value(Graph.Kind.CONSTANT, type, shape, null, data);
        constants.add(v);
        return v;
    }

    @Override public FloatTensor download(Tensor t) { throw readBack(); }

    @Override public IntTensor downloadInts(Tensor t) { throw readBack(); }

    private IllegalStateException readBack() {
        return new IllegalStateException(network.name() + ": a network must not read values back to the host (download inside forward)");
    }

    @Override public Tensor weight(WeightStore store, String key) {
        Graph.Value w = weights.get(key);
        if (w != null) return w;
        if (store != network.weights()) {
            throw new IllegalArgumentException(network.name() + ": weight " + key + " comes from " + store.path()
                    + ", not from the network's checkpoint " + network.weights().path());
        }
        int[] shape = store.info(key).shape();
        w = value(Graph.Kind.WEIGHT, DataType.FLOAT32, shape, key, null);
        weights.put(key, w);
        return w;
    }

    @Override public CompiledNetwork compile(Network n) {
        throw new UnsupportedOperationException(network.name() + ": networks cannot be compiled inside a recording");
    }

    @Override public Tensor reshape(Tensor x, int... shape) {
        Graph.Value v = own(x, "reshape x");
        return node("reshape", v.dataType(), Shapes.reshape(v.shape(), shape), list(v), "shape", shape.clone());
    }

    // ---- dense layers ------------------------------------------------------------------------------------------

    @Override public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, int groups) {
        Graph.Value xv = floatIn(x, "conv2d", "x"), wv = floatIn(w, "conv2d", "weight");
        Graph.Value bv = bias == null ? null : floatIn(bias, "conv2d", "bias");
        return node("conv2d", Shapes.conv2d(xv.shape(), wv.shape(), shape(bv), stride, padding, groups), list(xv, wv, bv),
                "stride", stride, "padding", padding, "groups", groups);
    }

    @Override public Tensor linear(Tensor x, Tensor w, Tensor bias) {
        Graph.Value xv = floatIn(x, "linear", "x"), wv = floatIn(w, "linear", "weight");
        Graph.Value bv = bias == null ? null : floatIn(bias, "linear", "bias");
        return node("linear", Shapes.linear(xv.shape(), wv.shape(), shape(bv)), list(xv, wv, bv));
    }

    // ---- normalisation -----------------------------------------------------------------------------------------

    @Override public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        Graph.Value xv = floatIn(x, "groupNorm", "x"), g = floatIn(gamma, "groupNorm", "gamma"), b = floatIn(beta, "groupNorm", "beta");
        return node("groupNorm", Shapes.groupNorm(xv.shape(), groups, g.shape(), b.shape()), list(xv, g, b),
                "groups", groups, "eps", eps, "silu", silu);
    }

    @Override public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Graph.Value xv = floatIn(x, "layerNorm", "x"), g = floatIn(gamma, "layerNorm", "gamma"), b = floatIn(beta, "layerNorm", "beta");
        return node("layerNorm", Shapes.layerNorm(xv.shape(), g.shape(), b.shape()), list(xv, g, b), "eps", eps);
    }

    @Override public Tensor layerNormChannels(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Graph.Value xv = floatIn(x, "layerNormChannels", "x"), g = floatIn(gamma, "layerNormChannels", "gamma");
        Graph.Value b = floatIn(beta, "layerNormChannels", "beta");
        return node("layerNormChannels", Shapes.layerNormChannels(xv.shape(), g.shape(), b.shape()), list(xv, g, b), "eps", eps);
    }

    // ---- attention ---------------------------------------------------------------------------------------------

    @Override public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, AttentionMask mask) {
        Graph.Value qv = floatIn(q, "attention", "q"), kv = floatIn(k, "attention", "k"), vv = floatIn(v, "attention", "v");
        AttentionMask m = mask == null ? AttentionMask.NONE : mask;
        Graph.Value keep = m.keyKeep() == null ? null : intIn(m.keyKeep(), "attention", "mask");
        return node("attention", Shapes.attention(qv.shape(), kv.shape(), vv.shape(), heads, shape(keep)), list(qv, kv, vv, keep),
                "heads", heads, "scale", scale, "causal", m.causal());
    }

    // ---- activations and elementwise ---------------------------------------------------------------------------

    private Tensor unary(String op, Tensor x) {
        Graph.Value v = floatIn(x, op, "x");
        return node(op, v.shape(), list(v));
    }

    @Override public Tensor silu(Tensor x) { return unary("silu", x); }

    @Override public Tensor quickGelu(Tensor x) { return unary("quickGelu", x); }

    @Override public Tensor gelu(Tensor x) { return unary("gelu", x); }

    @Override public Tensor exp(Tensor x) { return unary("exp", x); }

    @Override public Tensor geglu(Tensor x) {
        Graph.Value v = floatIn(x, "geglu", "x");
        return node("geglu", Shapes.lastHalf("geglu", v.shape()), list(v));
    }

    @Override public Tensor simpleGate(Tensor x) { return simpleGate(x, null); }

    @Override public Tensor simpleGate(Tensor x, Tensor bias) {
        Graph.Value v = floatIn(x, "simpleGate", "x"), b = bias == null ? null : floatIn(bias, "simpleGate", "bias");
        return node("simpleGate", Shapes.simpleGate(v.shape(), shape(b)), list(v, b));
    }

    @Override public Tensor add(Tensor a, Tensor b) {
        Graph.Value av = floatIn(a, "add", "a"), bv = floatIn(b, "add", "b");
        return node("add", Shapes.add(av.shape(), bv.shape()), list(av, bv));
    }

    @Override public Tensor mul(Tensor a, Tensor b) {
        Graph.Value av = floatIn(a, "mul", "a"), bv = floatIn(b, "mul", "b");
        return node("mul", Shapes.same("mul", av.shape(), bv.shape()), list(av, bv));
    }

    @Override public Tensor mulScalar(Tensor x, Tensor s) {
        Graph.Value xv = floatIn(x, "mulScalar", "x"), sv = floatIn(s, "mulScalar", "s");
        return node("mulScalar", Shapes.scalar("mulScalar", xv.shape(), sv.shape()), list(xv, sv));
    }

    @Override public Tensor scale(Tensor x, float s) {
        Graph.Value v = floatIn(x, "scale", "x");
        return node("scale", v.shape(), list(v), "scale", s);
    }

    @Override public Tensor clamp(Tensor x, float lo, float hi) {
        Graph.Value v = floatIn(x, "clamp", "x");
        return node("clamp", Shapes.clamp(v.shape(), lo, hi), list(v), "lo", lo, "hi", hi);
    }

    @Override public Tensor addPerChannel(Tensor x, Tensor v) {
        Graph.Value xv = floatIn(x, "addPerChannel", "x"), vv = floatIn(v, "addPerChannel", "v");
        return node("addPerChannel", Shapes.perChannelOperand("addPerChannel", xv.shape(), vv.shape()), list(xv, vv));
    }

    @Override public Tensor mulPerChannel(Tensor x, Tensor v) {
        Graph.Value xv = floatIn(x, "mulPerChannel", "x"), vv = floatIn(v, "mulPerChannel", "v");
        return node("mulPerChannel", Shapes.perChannelOperand("mulPerChannel", xv.shape(), vv.shape()), list(xv, vv));
    }

    @Override public Tensor conv2dWithInputBias(Tensor x, Tensor inputBias, Tensor w, Tensor bias, int stride, int padding, int groups) {
        if (inputBias == null) return conv2d(x, w, bias, stride, padding, groups);
        Graph.Value xv = floatIn(x, "conv2dWithInputBias", "x"), ib = floatIn(inputBias, "conv2dWithInputBias", "inputBias");
        Graph.Value wv = floatIn(w, "conv2dWithInputBias", "weight");
        Graph.Value bv = bias == null ? null : floatIn(bias, "conv2dWithInputBias", "bias");
        int[] y = Shapes.conv2dWithInputBias(xv.shape(), ib.shape(), wv.shape(), shape(bv), stride, padding, groups);
        return node("conv2dWithInputBias", y, list(xv, ib, wv, bv), "stride", stride, "padding", padding, "groups", groups);
    }

    @Override public Tensor addScaledPerChannel(Tensor a, Tensor x, Tensor bias, Tensor scale) {
        Graph.Value av = floatIn(a, "addScaledPerChannel", "a"), xv = floatIn(x, "addScaledPerChannel", "x");
        Graph.Value bv = bias == null ? null : floatIn(bias, "addScaledPerChannel", "bias");
        Graph.Value sv = floatIn(scale, "addScaledPerChannel", "scale");
        return node("addScaledPerChannel", Shapes.addScaledPerChannel(av.shape(), xv.shape(), shape(bv), sv.shape()), list(av, xv, bv, sv));
    }

    // ---- reductions and products -------------------------------------------------------------------------------

    @Override public Tensor softmax(Tensor x) {
        Graph.Value v = floatIn(x, "softmax", "x");
        return node("softmax", Shapes.lastDim("softmax", v.shape()), list(v));
    }

    @Override public Tensor normalizeRows(Tensor x) {
        Graph.Value v = floatIn(x, "normalizeRows", "x");
        return node("normalizeRows", Shapes.lastDim("normalizeRows", v.shape()), list(v));
    }

    @Override public Tensor matmul(Tensor a, Tensor b) {
        Graph.Value av = floatIn(a, "matmul", "a"), bv = floatIn(b, "matmul", "b");
        return node("matmul", Shapes.matmul(av.shape(), bv.shape()), list(av, bv));
    }

    @Override public Tensor argmax(Tensor x) {
        Graph.Value v = own(x, "argmax x");
        return node("argmax", DataType.INT32, Shapes.argmax(v.shape()), list(v));
    }

    // ---- resampling and layout ---------------------------------------------------------------------------------

    @Override public Tensor upsampleNearest2x(Tensor x) {
        Graph.Value v = floatIn(x, "upsampleNearest2x", "x");
        return node("upsampleNearest2x", Shapes.upsampleNearest2x(v.shape()), list(v));
    }

    @Override public Tensor pixelShuffle(Tensor x, int r) {
        Graph.Value v = floatIn(x, "pixelShuffle", "x");
        return node("pixelShuffle", Shapes.pixelShuffle(v.shape(), r), list(v), "r", r);
    }

    @Override public Tensor globalAvgPool(Tensor x) {
        Graph.Value v = floatIn(x, "globalAvgPool", "x");
        return node("globalAvgPool", Shapes.globalAvgPool(v.shape()), list(v));
    }

    @Override public Tensor pad2d(Tensor x, int top, int bottom, int left, int right) {
        Graph.Value v = floatIn(x, "pad2d", "x");
        return node("pad2d", Shapes.pad2d(v.shape(), top, bottom, left, right), list(v), "top", top, "bottom", bottom, "left", left, "right", right);
    }

    @Override public Tensor crop2d(Tensor x, int top, int left, int h, int w) {
        Graph.Value v = floatIn(x, "crop2d", "x");
        return node("crop2d", Shapes.crop2d(v.shape(), top, left, h, w), list(v), "top", top, "left", left, "height", h, "width", w);
    }

    @Override public Tensor concat(List<Tensor> parts, int dim) {
        List<Graph.Value> vs = new ArrayList<>();
        List<int[]> shapes = new ArrayList<>();
        for (Tensor t : parts) {
            Graph.Value v = own(t, "concat part");
            vs.add(v);
            shapes.add(v.shape());
        }
        DataType type = vs.isEmpty() ? DataType.FLOAT32 : vs.get(0).dataType();
        for (Graph.Value v : vs) if (v.dataType() != type) throw Shapes.bad("concat", "parts mix int32 and float tensors");
        return node("concat", type, Shapes.concat(shapes, dim), vs, "dim", dim);
    }

    @Override public Tensor slice(Tensor x, int dim, int from, int to) {
        Graph.Value v = own(x, "slice x");
        return node("slice", v.dataType(), Shapes.slice(v.shape(), dim, from, to), list(v), "dim", dim, "from", from, "to", to);
    }

    @Override public Tensor nchwToTokens(Tensor x) {
        Graph.Value v = floatIn(x, "nchwToTokens", "x");
        return node("nchwToTokens", Shapes.nchwToTokens(v.shape()), list(v));
    }

    @Override public Tensor tokensToNchw(Tensor x, int h, int w) {
        Graph.Value v = floatIn(x, "tokensToNchw", "x");
        return node("tokensToNchw", Shapes.tokensToNchw(v.shape(), h, w), list(v), "height", h, "width", w);
    }

    @Override public Tensor embedding(Tensor table, Tensor ids) {
        Graph.Value t = floatIn(table, "embedding", "table"), i = intIn(ids, "embedding", "ids");
        return node("embedding", Shapes.embedding(t.shape(), i.shape()), list(t, i));
    }

    @Override public Tensor gatherRows(Tensor x, Tensor rows) {
        Graph.Value xv = floatIn(x, "gatherRows", "x"), r = intIn(rows, "gatherRows", "rows");
        return node("gatherRows", Shapes.gatherRows(xv.shape(), r.shape()), list(xv, r));
    }

    @Override public Tensor clipPixelValues(Tensor image, int size, float[] mean, float[] std) {
        Graph.Value v = floatIn(image, "clipPixelValues", "image");
        return node("clipPixelValues", Shapes.clipPixelValues(v.shape(), size, mean, std), list(v), "size", size,
                "mean", mean.clone(), "std", std.clone());
    }

    // ---- diffusion helpers -------------------------------------------------------------------------------------

    @Override public Tensor timestepEmbedding(Tensor t, int dim) {
        Graph.Value v = floatIn(t, "timestepEmbedding", "t");
        return node("timestepEmbedding", Shapes.timestepEmbedding(v.shape(), dim), list(v), "dim", dim);
    }

    @Override public Tensor cfgCombine(Tensor cond, Tensor imgCond, Tensor uncond, float sText, float sImg) {
        Graph.Value c = floatIn(cond, "cfgCombine", "cond"), i = floatIn(imgCond, "cfgCombine", "imgCond");
        Graph.Value u = floatIn(uncond, "cfgCombine", "uncond");
        return node("cfgCombine", Shapes.same("cfgCombine", c.shape(), i.shape(), u.shape()), list(c, i, u), "textScale", sText, "imageScale", sImg);
    }

    @Override public Tensor eulerAncestralStep(Tensor z, Tensor denoised, Tensor noise, float sigma, float sigmaDown, float sigmaUp) {
        Graph.Value zv = floatIn(z, "eulerAncestralStep", "z"), d = floatIn(denoised, "eulerAncestralStep", "denoised");
        Graph.Value n = noise == null ? null : floatIn(noise, "eulerAncestralStep", "noise");
        int[] shape = n == null ? Shapes.same("eulerAncestralStep", zv.shape(), d.shape()) : Shapes.same("eulerAncestralStep", zv.shape(), d.shape(), n.shape());
        return node("eulerAncestralStep", shape, list(zv, d, n), "sigma", sigma, "sigmaDown", sigmaDown, "sigmaUp", sigmaUp);
    }

    @Override public void close() { }
}
