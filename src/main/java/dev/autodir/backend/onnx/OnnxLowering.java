package dev.autodir.backend.onnx;

import com.google.protobuf.ByteString;
import dev.autodir.backend.DataType;
import dev.autodir.backend.Shapes;
import dev.autodir.backend.onnx.proto.OnnxProto.AttributeProto;
import dev.autodir.backend.onnx.proto.OnnxProto.NodeProto;
import dev.autodir.backend.onnx.proto.OnnxProto.TensorProto;
import dev.autodir.backend.record.Graph;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * One recorded {@link Graph} as ONNX nodes (opset {@link OnnxExporter#OPSET}): one node pattern per {@link
 * dev.autodir.backend.Ops} operation, in the graph's order, computing what the cpu backend computes in float32.
 * Fused forms are decomposed (conv2dWithInputBias = Add + Conv, ...); attention is
 * Reshape/Transpose/MatMul/Mul/Add-mask/Softmax/MatMul; GroupNorm is Reshape → InstanceNormalization → Reshape →
 * Mul → Add. The small tensors a pattern needs (shapes, scalars, masks, offsets) become inline initializers; the
 * weights are named by their checkpoint keys and written by {@link OnnxExporter} in the external-data format.
 *
 * <p>Names: inputs and outputs keep their spec names, weights their checkpoint keys, a node's result is
 * {@code v<id>:<op>}, the inner values of a pattern {@code v<id>:<op>/<k>} (checkpoint keys never contain ':').
 */
final class OnnxLowering {
    /** Added to the scores of a masked key: large enough that its softmax weight is exactly 0, finite so no row is NaN. */
    static final float MASKED = -1e30f;

    private final Graph graph;
    private final Map<Graph.Value, String> names = new IdentityHashMap<>();
    private final List<NodeProto> nodes = new ArrayList<>();
    private final List<TensorProto> initializers = new ArrayList<>();
    private final Map<String, String> constantByContent = new HashMap<>();
    private final QuantPlan plan;
    private final java.util.Set<String> dequantized = new java.util.HashSet<>();
    private String prefix;
    private int inner;

    private final long attentionBlockBytes;

    private OnnxLowering(Graph graph, QuantPlan plan, long attentionBlockBytes) {
        this.graph = graph;
        this.plan = plan;
        this.attentionBlockBytes = attentionBlockBytes;
    }

    /** The nodes and the inline initializers of {@code graph}. */
    static OnnxLowering lower(Graph graph) { return lower(graph, null, OnnxExporter.ATTENTION_BLOCK_BYTES); }

    /**
     * As {@link #lower(Graph)}, with the Q/DQ pairs of {@code plan} (null: float32) and attention scores over
     * {@code attentionBlockBytes} in blocks of query rows.
     */
    static OnnxLowering lower(Graph graph, QuantPlan plan, long attentionBlockBytes) {
        OnnxLowering l = new OnnxLowering(graph, plan, attentionBlockBytes);
        l.run();
        return l;
    }

    /** Whether {@code w} is a weight the plan quantizes. */
    private boolean quantized(Graph.Value w) {
        return plan != null && w != null && w.kind() == Graph.Kind.WEIGHT && plan.quantizes(w.name());
    }

    /** x (the input of the layer with weight {@code key}) through the plan's Q/DQ pair, SmoothQuant's division first. */
    private String quantizeInput(String x, String key, int channels, int rank) {
        double[] s = plan.smoothQuant(key);
        if (s != null) {
            float[] inv = new float[s.length];
            for (int j = 0; j < s.length; j++) inv[j] = (float) (1 / s[j]);
            int[] shape = new int[rank];
            java.util.Arrays.fill(shape, 1);
            shape[rank - 1] = channels;
            x = node("Mul", fresh(), x, floats(shape, inv));
        }
        String scale = scalar(plan.activationScale(key));
        String zero = quantZero(new int[0]);
        String q = node("QuantizeLinear", fresh(), x, scale, zero);
        return node("DequantizeLinear", fresh(), q, scale, zero);
    }

    /** The dequantized weight {@code key} (its DequantizeLinear is emitted once; the data and scales come with the weights). */
    private String dequantizedWeight(String key) {
        String out = QuantPlan.dequantizedName(key);
        if (dequantized.add(key)) node("DequantizeLinear", out, List.of(key, QuantPlan.scaleName(key), QuantPlan.zeroName(key)), attr("axis", 0));
        return out;
    }

    private String quantZero(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return constant(new Tensor(plan.elementType(), Tensor.dims(shape), new byte[n]));
    }

    List<NodeProto> nodes() { return nodes; }

    /** The small tensors the node patterns need and the graph's constants, with their data inline. */
    List<TensorProto> initializers() { return initializers; }

    private void run() {
        for (Graph.Value v : graph.inputs()) names.put(v, v.name());
        for (Graph.Value v : graph.weights().values()) {
            if (names.containsValue(v.name())) {
                throw new IllegalArgumentException(graph.network().name() + ": weight " + v.name() + " has the name of an input");
            }
            names.put(v, v.name());
        }
        graph.outputs().forEach((name, v) -> names.put(v, name));
        for (Graph.Value c : graph.constants()) {
            String name = "c" + c.id();
            names.put(c, name);
            Tensor data = Tensor.of(c.constantData());
            initializers.add(data.proto(name));
        }
        for (Graph.Node n : graph.nodes()) {
            names.putIfAbsent(n.output(), "v" + n.output().id() + ":" + n.op());
            prefix = "v" + n.output().id() + ":" + n.op() + "/";
            inner = 0;
            lower(n, names.get(n.output()));
        }
    }

    // ---- one pattern per operation --------------------------------------------------------------------------------

    private void lower(Graph.Node n, String out) {
        switch (n.op()) {
            case "reshape" -> reshapeTo(out, in(n, 0), n.output().shape());
            case "conv2d" -> conv(out, in(n, 0), n.input(1), optional(n, 2), n);
            case "conv2dWithInputBias" -> conv(out, add(in(n, 0), perChannel(n.input(1), n.input(0).shape(), false)), n.input(2), optional(n, 3), n);
            case "linear" -> linear(n, out);
            case "groupNorm" -> groupNorm(n, out);
            case "layerNorm" -> layerNorm(n, out);
            case "layerNormChannels" -> layerNormChannels(n, out);
            case "attention" -> attention(n, out);
            case "silu" -> silu(in(n, 0), out);
            case "quickGelu" -> logistic(in(n, 0), node("Mul", fresh(), in(n, 0), scalar(1.702f)), out);
            case "gelu" -> gelu(in(n, 0), out);
            case "geglu" -> {
                int[] s = n.input(0).shape();
                int half = s[s.length - 1] / 2;
                String a = slice(in(n, 0), s.length - 1, 0, half), g = slice(in(n, 0), s.length - 1, half, 2 * half);
                node("Mul", out, a, gelu(g, fresh()));
            }
            case "simpleGate" -> {
                int[] s = n.input(0).shape();
                String x = n.input(1) == null ? in(n, 0) : add(in(n, 0), perChannel(n.input(1), s, false));
                node("Mul", out, slice(x, 1, 0, s[1] / 2), slice(x, 1, s[1] / 2, s[1]));
            }
            case "add" -> node("Add", out, in(n, 0), in(n, 1));
            case "mul" -> node("Mul", out, in(n, 0), in(n, 1));
            case "scale" -> node("Mul", out, in(n, 0), scalar(n.floatAttr("scale")));
            case "mulScalar" -> node("Mul", out, in(n, 0), node("Reshape", fresh(), in(n, 1), int64s()));
            case "exp" -> node("Exp", out, in(n, 0));
            case "clamp" -> node("Clip", out, in(n, 0), scalar(n.floatAttr("lo")), scalar(n.floatAttr("hi")));
            case "addPerChannel" -> node("Add", out, in(n, 0), perChannel(n.input(1), n.input(0).shape(), true));
            case "mulPerChannel" -> node("Mul", out, in(n, 0), perChannel(n.input(1), n.input(0).shape(), true));
            case "addScaledPerChannel" -> {
                int[] s = n.input(1).shape();
                String x = n.input(2) == null ? in(n, 1) : add(in(n, 1), perChannel(n.input(2), s, false));
                node("Add", out, in(n, 0), node("Mul", fresh(), x, perChannel(n.input(3), s, false)));
            }
            case "softmax" -> node("Softmax", out, List.of(in(n, 0)), attr("axis", -1));
            case "normalizeRows" -> node("Div", out, in(n, 0),
                    reduce("ReduceL2", in(n, 0), -1));
            case "matmul" -> node("MatMul", out, in(n, 0), in(n, 1));
            case "argmax" -> node("Cast", out, List.of(node("ArgMax", fresh(), List.of(in(n, 0)), attr("axis", -1), attr("keepdims", 0),
                    attr("select_last_index", 0))), attr("to", TensorProto.DataType.INT32_VALUE));
            case "upsampleNearest2x" -> node("Resize", out, List.of(in(n, 0), "", floats(new int[] {4}, 1, 1, 2, 2)),
                    attr("mode", "nearest"), attr("coordinate_transformation_mode", "asymmetric"), attr("nearest_mode", "floor"));
            case "pixelShuffle" -> node("DepthToSpace", out, List.of(in(n, 0)), attr("blocksize", n.intAttr("r")), attr("mode", "CRD"));
            case "globalAvgPool" -> node("GlobalAveragePool", out, in(n, 0));
            case "pad2d" -> node("Pad", out, List.of(in(n, 0), int64s(0, 0, n.intAttr("top"), n.intAttr("left"), 0, 0,
                    n.intAttr("bottom"), n.intAttr("right"))), attr("mode", "constant"));
            case "crop2d" -> {
                int top = n.intAttr("top"), left = n.intAttr("left");
                node("Slice", out, in(n, 0), int64s(top, left), int64s(top + n.intAttr("height"), left + n.intAttr("width")), int64s(2, 3));
            }
            case "concat" -> {
                List<String> parts = new ArrayList<>();
                for (int i = 0; i < n.inputs().size(); i++) parts.add(in(n, i));
                node("Concat", out, parts, attr("axis", n.intAttr("dim")));
            }
            case "slice" -> node("Slice", out, in(n, 0), int64s(n.intAttr("from")), int64s(n.intAttr("to")), int64s(n.intAttr("dim")));
            case "nchwToTokens" -> {
                int[] s = n.input(0).shape();
                String flat = reshapeTo(fresh(), in(n, 0), new int[] {s[0], s[1], s[2] * s[3]});
                node("Transpose", out, List.of(flat), attrInts("perm", 0, 2, 1));
            }
            case "tokensToNchw" -> reshapeTo(out, node("Transpose", fresh(), List.of(in(n, 0)), attrInts("perm", 0, 2, 1)), n.output().shape());
            case "embedding" -> {
                int[] ids = n.input(1).shape();                                // [B, N]
                gatherZeroingOutside(out, in(n, 0), in(n, 1), n.input(0).dim(0), null, new int[] {ids[0], ids[1], 1});
            }
            case "gatherRows" -> {
                int[] s = n.input(0).shape();                                  // [B, N, C]: rows of the flat [B·N, C] view
                int[] offsets = new int[s[0]];
                for (int b = 0; b < s[0]; b++) offsets[b] = b * s[1];
                String flat = reshapeTo(fresh(), in(n, 0), new int[] {s[0] * s[1], s[2]});
                gatherZeroingOutside(out, flat, in(n, 1), s[1], int32s(new int[] {s[0]}, offsets), new int[] {s[0], 1});
            }
            case "clipPixelValues" -> clipPixelValues(n, out);
            case "timestepEmbedding" -> timestepEmbedding(n, out);
            case "cfgCombine" -> {
                // uncond + sText·(cond − imgCond) + sImg·(imgCond − uncond), left to right as the cpu backend
                String c = in(n, 0), i = in(n, 1), u = in(n, 2);
                String first = add(u, node("Mul", fresh(), node("Sub", fresh(), c, i), scalar(n.floatAttr("textScale"))));
                node("Add", out, first, node("Mul", fresh(), node("Sub", fresh(), i, u), scalar(n.floatAttr("imageScale"))));
            }
            case "eulerAncestralStep" -> {
                float sigma = n.floatAttr("sigma"), dt = n.floatAttr("sigmaDown") - sigma;
                String d = node("Div", fresh(), node("Sub", fresh(), in(n, 0), in(n, 1)), scalar(sigma));
                if (n.input(2) == null) {
                    node("Add", out, in(n, 0), node("Mul", fresh(), d, scalar(dt)));
                } else {
                    String z = add(in(n, 0), node("Mul", fresh(), d, scalar(dt)));
                    node("Add", out, z, node("Mul", fresh(), in(n, 2), scalar(n.floatAttr("sigmaUp"))));
                }
            }
            default -> throw new IllegalArgumentException(graph.network().name() + ": node " + n.index() + ": no ONNX form for operation " + n.op());
        }
    }

    private void conv(String out, String x, Graph.Value w, String bias, Graph.Node n) {
        int[] ws = w.shape();
        int p = n.intAttr("padding"), s = n.intAttr("stride");
        boolean q = quantized(w);
        List<String> inputs = new ArrayList<>(List.of(q ? quantizeInput(x, w.name(), ws[1] * n.intAttr("groups"), 4) : x,
                q ? dequantizedWeight(w.name()) : name(w)));
        if (bias != null) inputs.add(bias);
        node("Conv", out, inputs, attrInts("kernel_shape", ws[2], ws[3]), attrInts("pads", p, p, p, p), attrInts("strides", s, s),
                attrInts("dilations", 1, 1), attr("group", n.intAttr("groups")));
    }

    /** x [..., in] · wᵀ + b as Gemm(transB) on a [M, in] view; w may be a weight or an activation. */
    private void linear(Graph.Node n, String out) {
        int[] xs = n.input(0).shape(), y = n.output().shape();
        int in = xs[xs.length - 1], rows = Math.toIntExact(Shapes.numel(xs) / Math.max(1, in));
        List<String> inputs = new ArrayList<>();
        String x2 = xs.length == 2 ? in(n, 0) : reshapeTo(fresh(), in(n, 0), new int[] {rows, in});
        boolean q = quantized(n.input(1));
        inputs.add(q ? quantizeInput(x2, n.input(1).name(), in, 2) : x2);
        inputs.add(q ? dequantizedWeight(n.input(1).name()) : in(n, 1));
        if (n.input(2) != null) inputs.add(n.input(2).rank() == 1 ? in(n, 2) : reshapeTo(fresh(), in(n, 2), new int[] {y[y.length - 1]}));
        if (xs.length == 2) {
            node("Gemm", out, inputs, attr("transB", 1));
        } else {
            reshapeTo(out, node("Gemm", fresh(), inputs, attr("transB", 1)), y);
        }
    }

    /** GroupNorm over x [B, C, ...]: the groups as the channels of an InstanceNormalization, then the affine per channel. */
    private void groupNorm(Graph.Node n, String out) {
        int[] s = n.input(0).shape();
        int groups = n.intAttr("groups");
        long spatial = Shapes.numel(s) / Math.max(1, (long) s[0] * s[1]);
        float[] ones = new float[groups];
        Arrays.fill(ones, 1f);
        String grouped = reshapeTo(fresh(), in(n, 0), new int[] {s[0], groups, Math.toIntExact(s[1] / groups * spatial)});
        String normed = node("InstanceNormalization", fresh(), List.of(grouped, floats(new int[] {groups}, ones),
                floats(new int[] {groups}, new float[groups])), attr("epsilon", n.floatAttr("eps")));
        String back = reshapeTo(fresh(), normed, s);
        String scaled = node("Mul", fresh(), back, channelsFirst(n.input(1), s));
        if (n.boolAttr("silu")) {
            silu(node("Add", fresh(), scaled, channelsFirst(n.input(2), s)), out);
        } else {
            node("Add", out, scaled, channelsFirst(n.input(2), s));
        }
    }

    /** LayerNorm over the last dimension, two-pass: mean, then the mean of the squared deviations (biased). */
    private void layerNorm(Graph.Node n, String out) {
        int w = n.input(0).dim(-1);
        normalize(in(n, 0), -1, n.floatAttr("eps"), flat(n.input(1), w), flat(n.input(2), w), out);
    }

    /** NAFNet's LayerNorm2d: the same over the channels of each pixel. */
    private void layerNormChannels(Graph.Node n, String out) {
        int[] s = n.input(0).shape();
        normalize(in(n, 0), 1, n.floatAttr("eps"), channelsFirst(n.input(1), s), channelsFirst(n.input(2), s), out);
    }

    /** A reduction over one axis, keeping it: {@code axes} is an attribute up to opset 17 and an input from opset 18. */
    private String reduce(String op, String x, long axis) {
        int opset = plan == null ? OnnxExporter.OPSET : plan.opset();
        return opset >= 18 ? node(op, fresh(), List.of(x, int64s(axis)), attr("keepdims", 1))
                : node(op, fresh(), List.of(x), attrInts("axes", axis), attr("keepdims", 1));
    }

    private void normalize(String x, int axis, float eps, String gamma, String beta, String out) {
        String mean = reduce("ReduceMean", x, axis);
        String d = node("Sub", fresh(), x, mean);
        String var = reduce("ReduceMean", node("Mul", fresh(), d, d), axis);
        String y = node("Div", fresh(), d, node("Sqrt", fresh(), node("Add", fresh(), var, scalar(eps))));
        node("Add", out, node("Mul", fresh(), y, gamma), beta);
    }

    /**
     * softmax(scale · q·kᵀ + mask) · v per head. The mask is additive: {@link #MASKED} for a key above the diagonal
     * (causal) and for a padded key (keep = 0) other than key 0, so a masked key gets weight exactly 0 and every row
     * keeps at least key 0 (the cpu backend gives a row without visible keys zeros; the tokenizer never makes one).
     * Large score matrices are computed in blocks of query rows ({@link OnnxExporter#ATTENTION_BLOCK_BYTES}), concatenated.
     */
    private void attention(Graph.Node n, String out) {
        int[] qs = n.input(0).shape(), ks = n.input(1).shape();
        int b = qs[0], nq = qs[1], nk = ks[1], c = qs[2], heads = n.intAttr("heads"), d = c / heads;
        String q = node("Transpose", fresh(), List.of(reshapeTo(fresh(), in(n, 0), new int[] {b, nq, heads, d})), attrInts("perm", 0, 2, 1, 3));
        String k = node("Transpose", fresh(), List.of(reshapeTo(fresh(), in(n, 1), new int[] {b, nk, heads, d})), attrInts("perm", 0, 2, 3, 1));
        String v = node("Transpose", fresh(), List.of(reshapeTo(fresh(), in(n, 2), new int[] {b, nk, heads, d})), attrInts("perm", 0, 2, 1, 3));
        String mask = null;                                                    // [nq, nk] or broadcastable [B, 1, 1, nk]
        if (n.boolAttr("causal")) {
            float[] m = new float[nq * nk];
            for (int i = 0; i < nq; i++) for (int j = i + 1; j < nk; j++) m[i * nk + j] = MASKED;
            mask = floats(new int[] {nq, nk}, m);
        }
        String padMask = null;
        if (n.input(3) != null) {
            float[] perKey = new float[nk];
            Arrays.fill(perKey, 1, nk, MASKED);                                // key 0 is never masked
            String padded = node("Cast", fresh(), List.of(node("Equal", fresh(), in(n, 3), int32s(new int[0], 0))),
                    attr("to", TensorProto.DataType.FLOAT_VALUE));             // 1 where keep = 0
            padMask = reshapeTo(fresh(), node("Mul", fresh(), padded, floats(new int[] {nk}, perKey)), new int[] {b, 1, 1, nk});
        }
        long rowBytes = 4L * b * heads * nk;
        int block = (int) Math.max(1, Math.min(nq, attentionBlockBytes / rowBytes));
        String context;                                                        // [B, H, Nq, d]
        if (block >= nq) {
            context = attentionRows(q, k, v, n.floatAttr("scale"), mask, padMask);
        } else {
            List<String> parts = new ArrayList<>();
            for (int from = 0; from < nq; from += block) {
                int to = Math.min(nq, from + block);
                parts.add(attentionRows(slice(q, 2, from, to), k, v, n.floatAttr("scale"), mask == null ? null : slice(mask, 0, from, to), padMask));
            }
            context = node("Concat", fresh(), parts, attr("axis", 2));
        }
        String heads4 = node("Transpose", fresh(), List.of(context), attrInts("perm", 0, 2, 1, 3));
        reshapeTo(out, heads4, qs);
    }

    /** softmax(scale · q·kᵀ + masks) · v for query rows q [B, H, rows, d]; either mask may be null. */
    private String attentionRows(String q, String k, String v, float scale, String mask, String padMask) {
        String scores = node("Mul", fresh(), node("MatMul", fresh(), q, k), scalar(scale));   // [B, H, rows, Nk]
        if (mask != null) scores = node("Add", fresh(), scores, mask);
        if (padMask != null) scores = node("Add", fresh(), scores, padMask);
        String weights = node("Softmax", fresh(), List.of(scores), attr("axis", -1));
        return node("MatMul", fresh(), weights, v);
    }

    /**
     * Gather(table, index + offset) along axis 0 for int32 indices in [0, limit): an index outside gives a zero row, as
     * on the device backends (ONNX's Gather would wrap a negative index and fail on a large one). {@code validShape}
     * is the indices' shape with a trailing 1, to broadcast the validity over the row.
     */
    private void gatherZeroingOutside(String out, String table, String index, int limit, String offsets, int[] validShape) {
        String valid = node("And", fresh(), node("GreaterOrEqual", fresh(), index, int32s(new int[0], 0)),
                node("Less", fresh(), index, int32s(new int[0], limit)));
        String safe = node("Where", fresh(), valid, index, int32s(new int[0], 0));
        if (offsets != null) safe = node("Add", fresh(), safe, offsets);
        String rows = node("Gather", fresh(), List.of(table, safe), attr("axis", 0));
        node("Where", out, reshapeTo(fresh(), valid, validShape), rows, scalar(0f));
    }

    /** x / (1 + e^(−x)), as the cpu backend computes it (ONNX Runtime's Sigmoid loses relative accuracy far below 0). */
    private String silu(String x, String out) { return logistic(x, x, out); }

    /** x / (1 + e^(−s)). */
    private String logistic(String x, String s, String out) {
        return node("Div", out, x, node("Add", fresh(), node("Exp", fresh(), node("Neg", fresh(), s)), scalar(1f)));
    }

    /** Exact GELU: x · (1 + erf(x / √2)) · 0.5. */
    private String gelu(String x, String out) {
        String erf = node("Erf", fresh(), node("Div", fresh(), x, scalar((float) Math.sqrt(2))));
        return node("Mul", out, node("Mul", fresh(), x, node("Add", fresh(), erf, scalar(1f))), scalar(0.5f));
    }

    /** The CLIP image processor: ((x + 1)·255)/2, centre crop (zero padding where smaller), ·1/255, (v − mean)/std. */
    private void clipPixelValues(Graph.Node n, String out) {
        int[] s = n.input(0).shape();
        int size = n.intAttr("size"), h = s[2], w = s[3];
        float[] mean = n.floatsAttr("mean"), std = n.floatsAttr("std");
        String v = node("Div", fresh(), node("Mul", fresh(), node("Add", fresh(), in(n, 0), scalar(1f)), scalar(255f)), scalar(2f));
        int padTop = h >= size ? 0 : (size - h) / 2, padLeft = w >= size ? 0 : (size - w) / 2;
        int padBottom = h >= size ? 0 : size - h - padTop, padRight = w >= size ? 0 : size - w - padLeft;
        if (padTop + padBottom + padLeft + padRight > 0) {
            v = node("Pad", fresh(), List.of(v, int64s(0, 0, padTop, padLeft, 0, 0, padBottom, padRight)), attr("mode", "constant"));
        }
        int top = h >= size ? (h - size) / 2 : 0, left = w >= size ? (w - size) / 2 : 0;
        v = node("Slice", fresh(), v, int64s(top, left), int64s(top + size, left + size), int64s(2, 3));
        v = node("Mul", fresh(), v, scalar((float) (1.0 / 255.0)));
        node("Div", out, node("Sub", fresh(), v, floats(new int[] {1, 3, 1, 1}, mean)), floats(new int[] {1, 3, 1, 1}, std));
    }

    /** [cos(t·f), sin(t·f)] (then a zero column for an odd dim), f as the cpu backend computes it in float32. */
    private void timestepEmbedding(Graph.Node n, String out) {
        int b = n.input(0).dim(0), dim = n.intAttr("dim"), half = dim / 2;
        float[] freqs = new float[half];
        float lnMax = (float) Math.log(10000);
        for (int i = 0; i < half; i++) freqs[i] = (float) Math.exp(-lnMax * (float) i / half);
        String args = node("Mul", fresh(), reshapeTo(fresh(), in(n, 0), new int[] {b, 1}), floats(new int[] {1, half}, freqs));
        List<String> parts = new ArrayList<>(List.of(node("Cos", fresh(), args), node("Sin", fresh(), args)));
        if (dim % 2 != 0) parts.add(floats(new int[] {b, 1}, new float[b]));
        node("Concat", out, parts, attr("axis", 1));
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private String name(Graph.Value v) {
        String s = names.get(v);
        if (s == null) throw new IllegalStateException(graph.network().name() + ": value " + v + " is used before it is computed");
        return s;
    }

    private String in(Graph.Node n, int i) { return name(n.input(i)); }

    private String optional(Graph.Node n, int i) { return n.input(i) == null ? null : in(n, i); }

    private String fresh() { return prefix + (inner++); }

    private String add(String a, String b) { return node("Add", fresh(), a, b); }

    private String reshapeTo(String out, String x, int[] shape) {
        long[] s = new long[shape.length];
        boolean zero = false;
        for (int i = 0; i < shape.length; i++) {
            s[i] = shape[i];
            zero |= shape[i] == 0;
        }
        // allowzero: a 0 is a dimension of size 0, not "copy the input's" (only said where it matters)
        return zero ? node("Reshape", out, List.of(x, int64s(s)), attr("allowzero", 1)) : node("Reshape", out, x, int64s(s));
    }

    /** A per-channel operand (C elements, or B·C when {@code perImage} allows it) as [1 or B, C, 1, 1]. */
    private String perChannel(Graph.Value v, int[] x, boolean perImage) {
        long n = Shapes.numel(v.shape());
        int lead = perImage && n == (long) x[0] * x[1] ? x[0] : 1;
        return reshapeTo(fresh(), name(v), new int[] {lead, x[1], 1, 1});
    }

    /** A per-channel affine parameter (C elements) as [C, 1, ..., 1], broadcasting over x [B, C, ...]. */
    private String channelsFirst(Graph.Value v, int[] x) {
        int[] s = new int[x.length - 1];
        Arrays.fill(s, 1);
        s[0] = x[1];
        return Arrays.equals(v.shape(), s) ? name(v) : reshapeTo(fresh(), name(v), s);
    }

    /** A parameter as a vector of {@code n}. */
    private String flat(Graph.Value v, int n) {
        return v.rank() == 1 ? name(v) : reshapeTo(fresh(), name(v), new int[] {n});
    }

    private String slice(String x, int axis, int from, int to) {
        return node("Slice", fresh(), x, int64s(from), int64s(to), int64s(axis));
    }

    private String node(String type, String out, String... inputs) { return node(type, out, List.of(inputs)); }

    private String node(String type, String out, List<String> inputs, AttributeProto... attrs) {
        NodeProto.Builder b = NodeProto.newBuilder().setOpType(type).setName(out).addAllInput(inputs).addOutput(out);
        for (AttributeProto a : attrs) b.addAttribute(a);
        nodes.add(b.build());
        return out;
    }

    private static AttributeProto attr(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    private static AttributeProto attr(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    private static AttributeProto attr(String name, String value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(value)).build();
    }

    private static AttributeProto attrInts(String name, long... values) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) b.addInts(v);
        return b.build();
    }

    private String scalar(float v) { return floats(new int[0], v); }

    private String floats(int[] shape, float... values) { return constant(Tensor.floats(shape, values)); }

    private String int32s(int[] shape, int... values) { return constant(Tensor.ints(shape, values)); }

    private String int64s(long... values) { return constant(Tensor.longs(values)); }

    /** An inline initializer, shared by every pattern that needs the same values. */
    private String constant(Tensor t) {
        return constantByContent.computeIfAbsent(t.key(), k -> {
            String name = "k" + constantByContent.size() + ":" + t.label();
            initializers.add(t.proto(name));
            return name;
        });
    }

    /** A small tensor's type, shape and little-endian bytes. */
    private record Tensor(int type, long[] dims, byte[] bytes) {
        static Tensor floats(int[] shape, float[] v) {
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) b.putFloat(f);
            return new Tensor(TensorProto.DataType.FLOAT_VALUE, dims(shape), b.array());
        }

        static Tensor ints(int[] shape, int[] v) {
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int i : v) b.putInt(i);
            return new Tensor(TensorProto.DataType.INT32_VALUE, dims(shape), b.array());
        }

        static Tensor longs(long[] v) {
            ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (long l : v) b.putLong(l);
            return new Tensor(TensorProto.DataType.INT64_VALUE, new long[] {v.length}, b.array());
        }

        /** A graph constant (host data a network uploaded). */
        static Tensor of(dev.autodir.backend.Tensor data) {
            if (data instanceof FloatTensor f) return floats(f.shape(), f.data());
            if (data instanceof IntTensor i) return ints(i.shape(), i.data());
            throw new IllegalArgumentException("constant of type " + data.getClass().getSimpleName());
        }

        static long[] dims(int[] shape) {
            long[] d = new long[shape.length];
            for (int i = 0; i < shape.length; i++) d[i] = shape[i];
            return d;
        }

        String key() { return type + Arrays.toString(dims) + java.util.Base64.getEncoder().encodeToString(bytes); }

        String label() {
            String t = switch (type) {
                case TensorProto.DataType.FLOAT_VALUE -> "f32";
                case TensorProto.DataType.INT32_VALUE -> "i32";
                case TensorProto.DataType.INT8_VALUE -> "i8";
                case TensorProto.DataType.FLOAT8E4M3FN_VALUE -> "f8";
                default -> "i64";
            };
            return t + Arrays.toString(dims).replace(" ", "");
        }

        TensorProto proto(String name) {
            TensorProto.Builder p = TensorProto.newBuilder().setName(name).setDataType(type).setRawData(ByteString.copyFrom(bytes));
            for (long d : dims) p.addDims(d);
            return p.build();
        }
    }

    /** The ONNX element type of a network's input or output. */
    static int elementType(DataType t) {
        return t == DataType.INT32 ? TensorProto.DataType.INT32_VALUE : TensorProto.DataType.FLOAT_VALUE;
    }
}
