package dev.autodir.backend.record;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * Runs one recorded {@link Graph.Node} on a backend: the {@link Ops} call the node was recorded from, with the node's
 * attributes and the given tensors for its inputs (in the node's input order, null where the recording had none). A
 * replay of a graph node by node gives the network's result; the tiled executor replays a graph tile by tile.
 */
public final class GraphInterpreter {
    private GraphInterpreter() { }

    /** {@code node}'s operation on {@code ops} with {@code in[i]} for the node's input i. */
    public static Tensor apply(Ops ops, Graph.Node node, Tensor[] in) {
        if (in.length != node.inputs().size()) {
            throw new IllegalArgumentException(node + ": " + in.length + " inputs given, the node has " + node.inputs().size());
        }
        return switch (node.op()) {
            case "reshape" -> ops.reshape(in[0], node.intsAttr("shape"));
            case "conv2d" -> ops.conv2d(in[0], in[1], in[2], node.intAttr("stride"), node.intAttr("padding"), node.intAttr("groups"));
            case "conv2dWithInputBias" -> ops.conv2dWithInputBias(in[0], in[1], in[2], in[3], node.intAttr("stride"),
                    node.intAttr("padding"), node.intAttr("groups"));
            case "linear" -> ops.linear(in[0], in[1], in[2]);
            case "groupNorm" -> ops.groupNorm(in[0], node.intAttr("groups"), in[1], in[2], node.floatAttr("eps"), node.boolAttr("silu"));
            case "layerNorm" -> ops.layerNorm(in[0], in[1], in[2], node.floatAttr("eps"));
            case "layerNormChannels" -> ops.layerNormChannels(in[0], in[1], in[2], node.floatAttr("eps"));
            case "attention" -> ops.attention(in[0], in[1], in[2], node.intAttr("heads"), node.floatAttr("scale"),
                    new AttentionMask(node.boolAttr("causal"), in[3]));
            case "silu" -> ops.silu(in[0]);
            case "quickGelu" -> ops.quickGelu(in[0]);
            case "gelu" -> ops.gelu(in[0]);
            case "exp" -> ops.exp(in[0]);
            case "geglu" -> ops.geglu(in[0]);
            case "simpleGate" -> ops.simpleGate(in[0], in[1]);
            case "add" -> ops.add(in[0], in[1]);
            case "mul" -> ops.mul(in[0], in[1]);
            case "mulScalar" -> ops.mulScalar(in[0], in[1]);
            case "scale" -> ops.scale(in[0], node.floatAttr("scale"));
            case "clamp" -> ops.clamp(in[0], node.floatAttr("lo"), node.floatAttr("hi"));
            case "addPerChannel" -> ops.addPerChannel(in[0], in[1]);
            case "mulPerChannel" -> ops.mulPerChannel(in[0], in[1]);
            case "addScaledPerChannel" -> ops.addScaledPerChannel(in[0], in[1], in[2], in[3]);
            case "softmax" -> ops.softmax(in[0]);
            case "normalizeRows" -> ops.normalizeRows(in[0]);
            case "matmul" -> ops.matmul(in[0], in[1]);
            case "argmax" -> ops.argmax(in[0]);
            case "upsampleNearest2x" -> ops.upsampleNearest2x(in[0]);
            case "pixelShuffle" -> ops.pixelShuffle(in[0], node.intAttr("r"));
            case "globalAvgPool" -> ops.globalAvgPool(in[0]);
            case "pad2d" -> ops.pad2d(in[0], node.intAttr("top"), node.intAttr("bottom"), node.intAttr("left"), node.intAttr("right"));
            case "crop2d" -> ops.crop2d(in[0], node.intAttr("top"), node.intAttr("left"), node.intAttr("height"), node.intAttr("width"));
            case "concat" -> ops.concat(Arrays.asList(in), node.intAttr("dim"));
            case "slice" -> ops.slice(in[0], node.intAttr("dim"), node.intAttr("from"), node.intAttr("to"));
            case "nchwToTokens" -> ops.nchwToTokens(in[0]);
            case "tokensToNchw" -> ops.tokensToNchw(in[0], node.intAttr("height"), node.intAttr("width"));
            case "embedding" -> ops.embedding(in[0], in[1]);
            case "gatherRows" -> ops.gatherRows(in[0], in[1]);
            case "clipPixelValues" -> ops.clipPixelValues(in[0], node.intAttr("size"), node.floatsAttr("mean"), node.floatsAttr("std"));
            case "timestepEmbedding" -> ops.timestepEmbedding(in[0], node.intAttr("dim"));
            case "cfgCombine" -> ops.cfgCombine(in[0], in[1], in[2], node.floatAttr("textScale"), node.floatAttr("imageScale"));
            case "eulerAncestralStep" -> ops.eulerAncestralStep(in[0], in[1], in[2], node.floatAttr("sigma"),
                    node.floatAttr("sigmaDown"), node.floatAttr("sigmaUp"));
            default -> throw new IllegalArgumentException(node + ": no interpreter for operation \"" + node.op() + "\"");
        };
    }

    /** The operation names {@link #apply} runs (what RecordingOps records). */
    public static final List<String> OPERATIONS = List.of("reshape", "conv2d", "conv2dWithInputBias", "linear", "groupNorm",
            "layerNorm", "layerNormChannels", "attention", "silu", "quickGelu", "gelu", "exp", "geglu", "simpleGate", "add",
            "mul", "mulScalar", "scale", "clamp", "addPerChannel", "mulPerChannel", "addScaledPerChannel", "softmax",
            "normalizeRows", "matmul", "argmax", "upsampleNearest2x", "pixelShuffle", "globalAvgPool", "pad2d", "crop2d",
            "concat", "slice", "nchwToTokens", "tokensToNchw", "embedding", "gatherRows", "clipPixelValues",
            "timestepEmbedding", "cfgCombine", "eulerAncestralStep");
}
