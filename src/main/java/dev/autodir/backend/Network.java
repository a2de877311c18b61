package dev.autodir.backend;

import dev.autodir.io.WeightStore;

import java.util.List;
import java.util.Map;

/**
 * A network function with its I/O contract: named, statically shaped inputs, and a forward function written once
 * against {@link Ops} that returns named outputs. A backend compiles it ({@link Ops#compile}): it runs it eagerly,
 * captures it as a CUDA graph, or records it into a graph that is exported to ONNX and built into an engine.
 *
 * <p>The forward function must be a pure function of its inputs and the weights: the same operations in the same order
 * on every call, nothing read back to the host, no host data (ids, masks, indices) but its int32 inputs.
 */
public interface Network {
    /** A short identifier: "unet", "vae-decode", ...; also part of exported file names and engine cache keys. */
    String name();

    /** The inputs in order. */
    List<TensorSpec> inputs();

    /** The checkpoint the weights come from (their names become the initializer names of an exported graph). */
    WeightStore weights();

    /**
     * Runs the network: {@code inputs} hold one tensor per input spec (keyed by name, on {@code ops}); returns the
     * outputs keyed by name, in a fixed order.
     */
    Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs);

    /** A description for messages: "unet(x float32 [1, 8, 64, 64], ...)". */
    default String describe() {
        StringBuilder b = new StringBuilder(name()).append('(');
        List<TensorSpec> in = inputs();
        for (int i = 0; i < in.size(); i++) b.append(i == 0 ? "" : ", ").append(in.get(i).describe());
        return b.append(')').toString();
    }
}
