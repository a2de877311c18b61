package dev.autodir.cli;

import dev.autodir.compare.CompareReport;
import dev.autodir.compare.Comparison;
import dev.autodir.compare.EngineSpec;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code autodir compare}: one image through several engines, speed and deviation side by side. */
@Command(name = "compare", sortOptions = false,
        description = {"Restores IMAGE with each engine (backend:precision) — same input, same noise, same settings — and puts",
                "their speed and their deviation from the first engine (the reference) side by side: median time per stage",
                "(BIQA, VAE encode, one UNet step, sampling, VAE decode, SCM, the pass), peak memory (each engine runs in a",
                "process of its own), per-network output rel-L2 and max-abs on the same inputs, the final image's PSNR, SSIM",
                "and largest uint8 difference, and whether BIQA chose the same class (and how far its probabilities moved).",
                "An engine that cannot start here is listed as not run, with the reason; the others still run.",
                "Engines: cpu:fp32; cpu:int8, cpu:fp8 (the quantized function simulated in float32 on the cpu backend: the",
                "reference a real INT8/FP8 engine is checked against, not faster); onnxruntime:fp32 (the ONNX export),",
                "onnxruntime:int8 (its INT8 QDQ export on ONNX Runtime's integer kernels), onnxruntime:fp8 (the FP8 QDQ",
                "export, emulated); cuda:fp32, cuda:fp16 (a GPU); cuda:int8, cuda:fp8 (a GPU; linear and 1x1 layers through",
                "cuBLASLt's INT8/FP8 products, the rest FP16; fp8 needs Ada or Hopper; never run on a GPU yet);",
                "tensorrt:fp16|int8|fp8 (a GPU with TensorRT; fp8 needs",
                "Ada or Hopper). Quantized engines use --calibration, or calibrate on the input image itself when none is given."})
public final class CompareCommand implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "The image to restore (PNG, JPEG, TIFF).")
    Path image;

    @Option(names = "--weights", paramLabel = "CKPT", description = "The AutoDIR checkpoint. Default: random weights of the official sizes.")
    Path weights;

    @Option(names = "--config", paramLabel = "FILE", description = "An official-style YAML for what tensor shapes cannot tell.")
    Path config;

    @Option(names = "--engines", paramLabel = "LIST", defaultValue = "cpu:fp32,onnxruntime:fp32,onnxruntime:int8",
            description = "Comma-separated backend:precision list; the first is the reference. Default: ${DEFAULT-VALUE}.")
    String engines;

    @Option(names = "--steps", defaultValue = "20", paramLabel = "N", description = "Sampler steps per pass. Default: ${DEFAULT-VALUE}.")
    int steps;

    @Option(names = "--runs", defaultValue = "1", paramLabel = "K", description = "Timed restores per engine (medians are reported). Default: ${DEFAULT-VALUE}.")
    int runs;

    @Option(names = "--warmup", defaultValue = "0", paramLabel = "N", description = "Untimed restores before them. Default: ${DEFAULT-VALUE}.")
    int warmup;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "N", description = "Noise seed. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--max-passes", defaultValue = "1", paramLabel = "N", description = "Passes per restore (1..7). Default: ${DEFAULT-VALUE}.")
    int maxPasses;

    @Option(names = "--cfg-text", defaultValue = "1", paramLabel = "S", description = "Text guidance scale. Default: ${DEFAULT-VALUE}.")
    float cfgText;

    @Option(names = "--cfg-image", defaultValue = "1", paramLabel = "S", description = "Image guidance scale. Default: ${DEFAULT-VALUE}.")
    float cfgImage;

    @Option(names = "--calibration", paramLabel = "FILE", description = "A calibration from `autodir calibrate` for the quantized engines.")
    Path calibration;

    @Option(names = "--report", paramLabel = "FILE.json", description = "Write the figures as JSON.")
    Path report;

    @Option(names = "--html", paramLabel = "FILE.html", description = "Write a page with the outputs side by side, difference maps and a chart of the stage times.")
    Path html;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "Where the engines' outputs go (kept). Default: a temporary folder, deleted afterwards.")
    Path workDir;

    @Option(names = "--in-process", description = "Run the engines one after another in this process (no peak-memory figures, no isolation).")
    boolean inProcess;

    @Option(names = "--timeout", defaultValue = "3600", paramLabel = "S", description = "Seconds an engine may take. Default: ${DEFAULT-VALUE}.")
    long timeout;

    @Override public Integer call() throws IOException {
        CommandLine cl = spec.commandLine();
        List<EngineSpec> list;
        try {
            list = EngineSpec.parseList(engines);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, e.getMessage());
        }
        if (steps < 1 || steps > 1000) throw new CommandLine.ParameterException(cl, "--steps must be in 1..1000, got " + steps);
        if (maxPasses < 1 || maxPasses > 7) throw new CommandLine.ParameterException(cl, "--max-passes must be in 1..7, got " + maxPasses);
        if (runs < 1) throw new CommandLine.ParameterException(cl, "--runs must be at least 1, got " + runs);
        if (warmup < 0) throw new CommandLine.ParameterException(cl, "--warmup must not be negative, got " + warmup);
        if (weights != null && !Files.isRegularFile(weights)) throw new CommandLine.ParameterException(cl, "--weights: " + weights + ": no such file");
        if (calibration != null && !Files.isRegularFile(calibration)) throw new CommandLine.ParameterException(cl, "--calibration: " + calibration + ": no such file");
        RgbImage img = RgbImageReader.read(image);
        boolean temporary = workDir == null;
        Path work = temporary ? Files.createTempDirectory("autodir-compare") : workDir;
        PrintStream log = System.err;
        try {
            Comparison.Result r = Comparison.run(new Comparison.Options(weights, config, img.toTensor(), image.toString(), list, steps, runs, warmup,
                    seed, cfgText, cfgImage, 1f, maxPasses, calibration, inProcess, work, timeout), log);
            cl.getOut().print(CompareReport.table(r));
            cl.getOut().flush();
            if (report != null) CompareReport.writeJson(r, report);
            if (html != null) CompareReport.writeHtml(r, html);
        } finally {
            if (temporary) deleteTree(work);
        }
        return 0;
    }

    private static void deleteTree(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // a leftover temporary file is harmless
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
