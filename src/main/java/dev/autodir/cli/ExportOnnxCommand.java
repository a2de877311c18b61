package dev.autodir.cli;

import dev.autodir.backend.Network;
import dev.autodir.backend.onnx.ExportedModel;
import dev.autodir.backend.onnx.OnnxExporter;
import dev.autodir.backend.onnx.QuantPlan;
import dev.autodir.backend.record.Graph;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.Networks;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.Calibrator;
import dev.autodir.quant.QuantFormat;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code autodir export-onnx}: networks as ONNX models with external weights, for ONNX Runtime and TensorRT. */
@Command(name = "export-onnx",
        description = {"Export networks as ONNX (opset " + OnnxExporter.OPSET + ") for ONNX Runtime, TensorRT's ONNX parser and"
                + " other ONNX tools, with the weights of a checkpoint, or random weights of the official sizes when --weights"
                + " is omitted (as bench uses). Per network, DIR gets NAME.onnx (the graph), NAME.onnx.data (every weight,"
                + " float32, named by its checkpoint key, in ONNX's external-data format: the UNet's 3.4 GB are over"
                + " protobuf's 2 GB limit) and NAME.json (the manifest: input and output names, shapes and dtypes, the"
                + " weights' SHA-256, the exporter version). Weights are streamed one tensor at a time; files appear"
                + " complete or not at all; an existing export is kept unless --overwrite."})
final class ExportOnnxCommand implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--network", required = true, paramLabel = "NAME",
            description = "unet (x [1, 8, size/8, size/8], timesteps [1], context [1, 77, 768] → eps), vae-encode, vae-decode,"
                    + " scm, clip-text (one prompt), clip-vision (224), biqa (the 8 prompts and an image → probabilities and"
                    + " the mixed conditioning), or all.")
    String network;

    @Option(names = "--size", defaultValue = "512", paramLabel = "PX",
            description = "Image side in pixels the shapes are fixed for (the UNet runs at size/8). Default: ${DEFAULT-VALUE}.")
    int size;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "The directory to write into (created if missing).")
    Path output;

    @Option(names = "--weights", paramLabel = "CKPT", description = "The checkpoint whose weights to export. Default: random weights of the official sizes.")
    Path weights;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML config for --weights (head counts, schedule).")
    Path config;

    @Option(names = "--overwrite", description = "Replace an existing export of the same network in DIR.")
    boolean overwrite;

    @Option(names = "--precision", defaultValue = "fp32", paramLabel = "fp32|int8|fp8",
            description = "fp32: the float32 graph. int8 / fp8: the explicit-quantization (QDQ) graph of --calibration —"
                    + " QuantizeLinear/DequantizeLinear pairs on the calibrated layers' inputs, their weights stored int8 or"
                    + " FP8 E4M3FN per output channel (fp8: opset 19) — what TensorRT builds INT8/FP8 engines from."
                    + " Default: ${DEFAULT-VALUE}.")
    String precision;

    @Option(names = "--calibration", paramLabel = "FILE", description = "For --precision int8 / fp8: a calibration of these weights (`autodir calibrate`).")
    Path calibration;

    @Override public Integer call() {
        List<String> names = network.equalsIgnoreCase("all") ? Networks.NAMES : List.of(network.toLowerCase(Locale.ROOT));
        for (String n : names) {
            if (!Networks.NAMES.contains(n)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--network: unknown network \"" + network + "\" (networks: "
                        + String.join(", ", Networks.NAMES) + ", all)");
            }
        }
        if (size < 1 || size > 8192) throw new CommandLine.ParameterException(spec.commandLine(), "--size must be in 1..8192, got " + size);
        if (weights != null && !Files.isRegularFile(weights)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--weights: " + weights + ": no such file");
        }
        if (config != null && !Files.isRegularFile(config)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--config: " + config + ": no such file");
        }
        if (Files.exists(output) && !Files.isDirectory(output)) {
            throw new IllegalArgumentException("-o " + output + ": exists and is not a directory");
        }
        String prec = precision.toLowerCase(Locale.ROOT);
        if (!prec.equals("fp32") && !prec.equals("int8") && !prec.equals("fp8")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--precision must be fp32, int8 or fp8, got \"" + precision + "\"");
        }
        if (prec.equals("fp32") != (calibration == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), prec.equals("fp32")
                    ? "--calibration is for --precision int8 or fp8" : "--precision " + prec + " needs --calibration FILE (from `autodir calibrate`)");
        }
        if (calibration != null && !Files.isRegularFile(calibration)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--calibration: " + calibration + ": no such file");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (AutoDIRModels models = ModelSource.open(weights, config)) {
            QuantPlan plan = null;
            if (calibration != null) {
                Calibration cal = Calibration.read(calibration);
                Calibrator.checkWeights(cal, models.store());
                plan = new QuantPlan(QuantFormat.parse(prec), cal);
            }
            List<Network> networks = names.stream().map(n -> Networks.forExport(n, models, size)).toList();   // sizes checked first
            if (!overwrite) {
                for (Network n : networks) {
                    for (String suffix : new String[] {".onnx", ".onnx.data", ".json"}) {
                        Path p = output.resolve(n.name() + suffix);
                        if (Files.exists(p)) throw new IllegalArgumentException(p + ": already exists; not overwriting it (use --overwrite to replace it)");
                    }
                }
            }
            out.println("export-onnx: weights " + ModelSource.describe(weights) + ", size " + size + (plan == null ? "" : ", " + plan.key())
                    + ", into " + output.toAbsolutePath().normalize());
            for (Network n : networks) {
                long t0 = System.nanoTime();
                Graph g = Graph.record(n);
                ExportedModel e = OnnxExporter.export(g, output, overwrite, plan);
                out.printf(Locale.ROOT, "%-12s %s  %d nodes, %d weights (%.1f MB), sha256 %s…  %.1f s%n", n.name(), e.model(),
                        g.nodes().size(), g.weights().size(), g.weightBytes() / 1e6, e.weightsHash().substring(0, 16),
                        (System.nanoTime() - t0) / 1e9);
                out.println("             inputs " + e.inputs() + " → outputs " + e.outputs());
                out.flush();
            }
        }
        return 0;
    }
}
