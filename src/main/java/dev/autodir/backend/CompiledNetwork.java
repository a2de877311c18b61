package dev.autodir.backend;

import java.util.List;
import java.util.Map;

/**
 * A network compiled by one backend for its static input shapes (see {@link Ops#compile}). {@link #run} takes one
 * tensor per input (on the backend that compiled it) and returns the outputs by name. Outputs stay valid until the
 * next {@link #run} of this network or its {@link #close()} (on backends with transient memory, also until the
 * backend's next {@code endStage()} where the network runs eagerly): copy what must live longer.
 */
public interface CompiledNetwork extends AutoCloseable {
    Network network();

    /** The inputs, in order. */
    default List<TensorSpec> inputs() { return network().inputs(); }

    /** The outputs, in order (shapes inferred from the network's operations). */
    List<TensorSpec> outputs();

    /** What runs it: "cpu (eager)", "cuda (CUDA graph)", "onnxruntime (CPU)", ... */
    String describe();

    Map<String, Tensor> run(Map<String, Tensor> inputs);

    @Override void close();

    /** Checks {@code inputs} against the specs: every name present, no extra, each shape and type as declared. */
    static void checkInputs(Network network, Map<String, Tensor> inputs) {
        if (inputs == null) throw new IllegalArgumentException(network.name() + ": no inputs");
        for (TensorSpec s : network.inputs()) {
            Tensor t = inputs.get(s.name());
            if (t == null) throw new IllegalArgumentException(network.name() + ": input " + s.name() + " is missing (expected " + s.describe() + ")");
            if (!s.accepts(t)) {
                throw new IllegalArgumentException(network.name() + ": input " + s.name() + " is " + t.dataType().label() + " "
                        + java.util.Arrays.toString(t.shape()) + ", expected " + s.describe());
            }
        }
        if (inputs.size() != network.inputs().size()) {
            for (String k : inputs.keySet()) {
                if (network.inputs().stream().noneMatch(s -> s.name().equals(k))) {
                    throw new IllegalArgumentException(network.name() + ": unknown input " + k + " (inputs: "
                            + network.inputs().stream().map(TensorSpec::name).toList() + ")");
                }
            }
        }
    }
}
