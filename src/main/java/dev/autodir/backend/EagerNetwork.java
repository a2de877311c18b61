package dev.autodir.backend;

import dev.autodir.backend.record.Graph;

import java.util.List;
import java.util.Map;

/**
 * A network "compiled" by running its operations eagerly at every call: the cpu backend's form, and every backend's
 * default. Inputs are checked against the specs; outputs are the backend's transient tensors.
 */
public final class EagerNetwork implements CompiledNetwork {
    private final Ops ops;
    private final Network network;
    private List<TensorSpec> outputs;

    public EagerNetwork(Ops ops, Network network) {
        this.ops = ops;
        this.network = network;
    }

    @Override public Network network() { return network; }

    @Override public List<TensorSpec> outputs() {
        if (outputs == null) outputs = Graph.record(network).outputSpecs();
        return outputs;
    }

    @Override public String describe() { return ops.name() + " (eager)"; }

    @Override public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        CompiledNetwork.checkInputs(network, inputs);
        return network.forward(ops, inputs);
    }

    @Override public void close() { }
}
