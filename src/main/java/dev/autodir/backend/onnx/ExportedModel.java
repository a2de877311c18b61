package dev.autodir.backend.onnx;

import dev.autodir.backend.TensorSpec;

import java.nio.file.Path;
import java.util.List;

/**
 * One network exported as ONNX: what an ONNX runtime loads and what TensorRT's ONNX parser builds an engine from.
 *
 * @param network      the network's name ("unet", ...)
 * @param model        the .onnx file (graph and small initializers)
 * @param externalData the ONNX external-data file holding the large initializers (the weights), or null when none
 * @param manifest     the JSON manifest beside the model: names, shapes and dtypes of the I/O, the weights' hash,
 *                     the exporter version
 * @param weightsHash  a content hash of the weights the graph reads (hex), part of every engine cache key
 * @param inputs       the inputs in order
 * @param outputs      the outputs in order
 * @param precision    "fp32", or the quantized form it encodes ("int8-qdq", "fp8-qdq")
 */
public record ExportedModel(String network, Path model, Path externalData, Path manifest, String weightsHash,
                            List<TensorSpec> inputs, List<TensorSpec> outputs, String precision) {
    public ExportedModel {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }
}
