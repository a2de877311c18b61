package dev.autodir.backend.record;

import dev.autodir.backend.DataType;
import dev.autodir.backend.Network;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.io.WeightStore;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One compiled network as a graph of operations, recorded by {@link RecordingOps}: the network's inputs, the weights it
 * reads (by checkpoint key), constants it made, one {@link Node} per {@link dev.autodir.backend.Ops} call in call order
 * (a topological order), and its named outputs. Shapes are inferred by {@link dev.autodir.backend.Shapes} while
 * recording, so a recorded graph is also the network's checked I/O contract. Exporters (ONNX) and planners (the cuda
 * backend's memory plan) read it; it holds no tensor data but the constants'.
 */
public final class Graph {
    /** Where a value comes from. */
    public enum Kind { INPUT, WEIGHT, CONSTANT, NODE }

    /** A value of the graph: an input, a weight, a constant or a node's output. It is a {@link Tensor} while recording. */
    public static final class Value implements Tensor {
        private final int id;
        private final Kind kind;
        private final DataType type;
        private final int[] shape;
        private final String name;
        private final Tensor data;     // constants only (a FloatTensor or IntTensor)
        Node producer;

        Value(int id, Kind kind, DataType type, int[] shape, String name, Tensor data) {
            this.id = id;
            this.kind = kind;
            this.type = type;
            this.shape = shape.clone();
            this.name = name;
            this.data = data;
        }

        public int id() { return id; }

        public Kind kind() { return kind; }

        @Override public DataType dataType() { return type; }

        @Override public int[] shape() { return shape.clone(); }

        public int rank() { return shape.length; }

        public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }

        /** The input name, the weight's checkpoint key, or null (constants and node outputs). */
        public String name() { return name; }

        /** A constant's host data (FloatTensor or IntTensor); null for other kinds. */
        public Tensor constantData() { return data; }

        /** The node that computes this value (NODE only). */
        public Node producer() { return producer; }

        public long bytes() { return Math.multiplyExact(dev.autodir.backend.Shapes.numel(shape), (long) type.bytes()); }

        @Override public void close() { }

        @Override public String toString() {
            return "%" + id + " " + kind.name().toLowerCase(java.util.Locale.ROOT) + (name == null ? "" : " " + name) + " "
                    + type.label() + " " + Arrays.toString(shape);
        }
    }

    /**
     * One operation: {@code op} is the {@link dev.autodir.backend.Ops} method name ("conv2d", "attention", ...), inputs
     * in the method's parameter order (null where an optional tensor was not given, e.g. a bias), and its non-tensor
     * arguments as attributes (Integer, Float, Boolean, int[], float[]).
     */
    public record Node(int index, String op, List<Value> inputs, Map<String, Object> attributes, Value output) {
        public Node {
            inputs = Collections.unmodifiableList(new ArrayList<>(inputs));
            attributes = Collections.unmodifiableMap(new LinkedHashMap<>(attributes));
        }

        public Value input(int i) { return inputs.get(i); }

        public int intAttr(String name) { return (Integer) required(name); }

        public float floatAttr(String name) { return (Float) required(name); }

        public boolean boolAttr(String name) { return (Boolean) required(name); }

        public int[] intsAttr(String name) { return ((int[]) required(name)).clone(); }

        public float[] floatsAttr(String name) { return ((float[]) required(name)).clone(); }

        private Object required(String name) {
            Object v = attributes.get(name);
            if (v == null) throw new IllegalStateException(op + " node " + index + " has no attribute " + name);
            return v;
        }

        @Override public String toString() { return "node " + index + " " + op + " → " + output; }
    }

    private final Network network;
    private final List<Value> inputs;
    private final Map<String, Value> weights;
    private final List<Value> constants;
    private final List<Node> nodes;
    private final Map<String, Value> outputs;

    Graph(Network network, List<Value> inputs, Map<String, Value> weights, List<Value> constants, List<Node> nodes,
          Map<String, Value> outputs) {
        this.network = network;
        this.inputs = List.copyOf(inputs);
        this.weights = Collections.unmodifiableMap(new LinkedHashMap<>(weights));
        this.constants = List.copyOf(constants);
        this.nodes = List.copyOf(nodes);
        this.outputs = Collections.unmodifiableMap(new LinkedHashMap<>(outputs));
    }

    /** Records {@code network}'s operations at its input specs (no tensor data is read or computed). */
    public static Graph record(Network network) {
        RecordingOps rec = new RecordingOps(network);
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (TensorSpec s : network.inputs()) {
            if (in.put(s.name(), rec.input(s)) != null) throw new IllegalArgumentException(network.name() + ": input " + s.name() + " is declared twice");
        }
        Map<String, Tensor> out = network.forward(rec, Collections.unmodifiableMap(in));
        if (out == null || out.isEmpty()) throw new IllegalArgumentException(network.name() + ": the network returned no outputs");
        return rec.finish(out);
    }

    public Network network() { return network; }

    public WeightStore store() { return network.weights(); }

    public List<Value> inputs() { return inputs; }

    /** The weights by checkpoint key, in first-use order. */
    public Map<String, Value> weights() { return weights; }

    public List<Value> constants() { return constants; }

    public List<Node> nodes() { return nodes; }

    public Map<String, Value> outputs() { return outputs; }

    public List<TensorSpec> inputSpecs() { return network.inputs(); }

    public List<TensorSpec> outputSpecs() {
        List<TensorSpec> specs = new ArrayList<>();
        outputs.forEach((name, v) -> specs.add(new TensorSpec(name, v.dataType() == DataType.INT32 ? DataType.INT32 : DataType.FLOAT32, v.shape())));
        return specs;
    }

    /** Bytes of the weights this graph reads, at float32. */
    public long weightBytes() {
        long n = 0;
        for (Value w : weights.values()) n = Math.addExact(n, w.bytes());
        return n;
    }

    /**
     * For every value, the index of the last node that reads it (−1 when none does); outputs count as read after the
     * last node ({@code nodes().size()}). This is what a memory plan needs: a node's output is live from its node to
     * its last use.
     */
    public int[] lastUses() {
        int count = 0;
        for (Node n : nodes) count = Math.max(count, n.output().id() + 1);
        for (Value v : inputs) count = Math.max(count, v.id() + 1);
        for (Value v : weights.values()) count = Math.max(count, v.id() + 1);
        for (Value v : constants) count = Math.max(count, v.id() + 1);
        int[] last = new int[count];
        Arrays.fill(last, -1);
        for (Node n : nodes) for (Value v : n.inputs()) if (v != null) last[v.id()] = n.index();
        for (Value v : outputs.values()) last[v.id()] = nodes.size();
        return last;
    }

    /** "unet: 812 nodes (conv2d 97, linear 160, ...), 686 weights (3.44 GB)". */
    public String summary() {
        Map<String, Integer> counts = new TreeMap<>();
        for (Node n : nodes) counts.merge(n.op(), 1, Integer::sum);
        return network.name() + ": " + nodes.size() + " nodes " + counts + ", " + weights.size() + " weights ("
                + String.format(java.util.Locale.ROOT, "%.1f MB", weightBytes() / 1e6) + "), " + constants.size() + " constants";
    }
}
