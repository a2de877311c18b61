package dev.autodir.backend.tensorrt;

import dev.autodir.backend.onnx.ExportedModel;
import dev.autodir.backend.record.Graph;

import java.nio.file.Path;

/**
 * The seam to the ONNX exporter ({@code dev.autodir.backend.onnx.OnnxExporter.export(Graph, Path) → ExportedModel},
 * written on branch {@code onnx}). Until that branch is merged this build has no exporter, and compiling a network on
 * the tensorrt backend fails with a message saying so.
 */
final class OnnxExporterSeam implements OnnxExports.Exporter {
    static final OnnxExporterSeam INSTANCE = new OnnxExporterSeam();

    private OnnxExporterSeam() { }

    @Override public ExportedModel export(Graph graph, Path directory) {
        throw new IllegalStateException("tensorrt: this build has no ONNX exporter (dev.autodir.backend.onnx.OnnxExporter, branch onnx), "
                + "which the engines are built from");
    }

    @Override public String version() { return "none"; }
}
