package dev.autodir.backend.tensorrt;

import java.util.Arrays;
import java.util.List;

/**
 * The I/O tensors of a deserialized engine as TensorRT reports them ({@code getNbIOTensors}, {@code getIOTensorName},
 * {@code getTensorIOMode}, {@code getTensorDataType}, {@code getTensorShape}), as plain data so the binding checks of
 * {@link EngineIO} can be tested without the library.
 */
public record EngineDescription(List<Tensor> tensors) {
    /**
     * @param name     the tensor's name (the ONNX graph's input / output name)
     * @param input    true for an input, false for an output
     * @param dataType TensorRT's DataType name: "kFLOAT", "kHALF", "kINT32", "kBF16", ...
     * @param dims     the engine's dimensions; -1 for a dimension a profile leaves open
     */
    public record Tensor(String name, boolean input, String dataType, long[] dims) {
        public Tensor {
            dims = dims.clone();
        }

        @Override public long[] dims() { return dims.clone(); }

        /** "x kFLOAT [1, 8, 64, 64] (input)". */
        public String describe() { return name + " " + dataType + " " + Arrays.toString(dims) + (input ? " (input)" : " (output)"); }
    }

    public EngineDescription {
        tensors = List.copyOf(tensors);
    }

    public Tensor find(String name) {
        for (Tensor t : tensors) if (t.name().equals(name)) return t;
        return null;
    }

    public String describe() {
        return String.join(", ", tensors.stream().map(Tensor::describe).toList());
    }
}
