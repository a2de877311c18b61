package dev.autodir.backend.tensorrt;

import dev.autodir.backend.DataType;
import dev.autodir.backend.TensorSpec;

import java.util.Arrays;
import java.util.List;

/**
 * Checks a loaded engine's I/O against the network's contract before anything is bound: each input and output of the
 * specs exists in the engine with the same role, data type and shape (a dimension the engine leaves open, -1, only for
 * an input its profile covers, or for outputs of a profiled engine), and the engine has no I/O tensor the specs lack.
 * A mismatch throws one line that names the network, the tensor and both sides.
 */
public final class EngineIO {
    private EngineIO() { }

    /** Our data type for TensorRT's DataType name, or null for one the backend cannot bind (kHALF, kBF16, kINT64, ...). */
    public static DataType dataType(String tensorrtName) {
        return switch (tensorrtName) {
            case "kFLOAT" -> DataType.FLOAT32;
            case "kINT32" -> DataType.INT32;
            default -> null;
        };
    }

    public static void check(String network, List<TensorSpec> inputs, List<TensorSpec> outputs, ShapeProfile profile,
                             EngineDescription engine) {
        String prefix = network + " engine: ";
        for (TensorSpec s : inputs) checkOne(prefix, s, true, profile, engine);
        for (TensorSpec s : outputs) checkOne(prefix, s, false, profile, engine);
        for (EngineDescription.Tensor t : engine.tensors()) {
            List<TensorSpec> side = t.input() ? inputs : outputs;
            if (side.stream().noneMatch(s -> s.name().equals(t.name()))) {
                boolean other = (t.input() ? outputs : inputs).stream().anyMatch(s -> s.name().equals(t.name()));
                throw new IllegalStateException(prefix + (t.input() ? "input " : "output ") + t.describe() + (other
                        ? " is an " + (t.input() ? "output" : "input") + " of the network"
                        : " is not in the network's I/O (" + (t.input() ? "inputs " : "outputs ") + side.stream().map(TensorSpec::name).toList() + ")"));
            }
        }
    }

    private static void checkOne(String prefix, TensorSpec spec, boolean input, ShapeProfile profile, EngineDescription engine) {
        String role = input ? "input " : "output ";
        EngineDescription.Tensor t = engine.find(spec.name());
        if (t == null) {
            throw new IllegalStateException(prefix + role + spec.describe() + " is missing (the engine's I/O: " + engine.describe() + ")");
        }
        if (t.input() != input) {
            throw new IllegalStateException(prefix + role + spec.name() + " is an " + (t.input() ? "input" : "output") + " of the engine");
        }
        DataType d = dataType(t.dataType());
        if (d != spec.type()) {
            throw new IllegalStateException(prefix + role + spec.name() + " is " + t.dataType() + " in the engine, expected " + spec.type().label()
                    + (d == null ? " (the backend binds kFLOAT and kINT32 tensors)" : ""));
        }
        long[] dims = t.dims();
        int[] shape = spec.shape();
        boolean open = input ? profile != null && profile.ranges().containsKey(spec.name()) : profile != null;
        boolean ok = dims.length == shape.length;
        for (int i = 0; ok && i < dims.length; i++) ok = dims[i] == shape[i] || (dims[i] == -1 && open);
        if (!ok) {
            throw new IllegalStateException(prefix + role + spec.name() + " has shape " + Arrays.toString(dims) + " in the engine, expected "
                    + Arrays.toString(shape) + (Arrays.stream(dims).anyMatch(x -> x == -1) && !open ? " (an open dimension needs a profile for this input)" : ""));
        }
    }
}
