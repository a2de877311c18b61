package dev.autodir.compare;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.io.SafetensorsWriter;
import dev.autodir.io.WeightStore;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.Calibrator;
import dev.autodir.quant.QuantRecipe;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code autodir compare}: the same image through several engines with the same noise and settings; the first engine
 * is the reference. Each engine runs in a worker process of its own ({@link CompareWorker}); an engine that cannot start
 * is reported as not run with the reason and the others still run.
 */
public final class Comparison {

    /** What to compare. {@code weights} null: random weights of the official sizes. */
    public record Options(Path weights, Path config, FloatTensor image, String imageName, List<EngineSpec> engines, int steps,
                          int runs, int warmup, long seed, float cfgText, float cfgImage, float scmWeight, int maxPasses,
                          Path calibration, boolean inProcess, Path workDir, long workerTimeoutSeconds) {
        public Options {
            if (engines.isEmpty()) throw new IllegalArgumentException("--engines: no engine");
            if (runs < 1) throw new IllegalArgumentException("--runs must be at least 1, got " + runs);
            if (warmup < 0) throw new IllegalArgumentException("--warmup must not be negative, got " + warmup);
            engines = List.copyOf(engines);
        }
    }

    /** One engine's figures. {@code deviation} is null for an engine that did not run. */
    public record EngineResult(EngineSpec engine, String status, String reason, String backend, Map<String, Double> medianMs,
                               long peakRssBytes, List<String> classes, String main0, Deviation deviation) { }

    /** Distance from the reference: per network output, the final image, BIQA's first decision. */
    public record Deviation(Map<String, double[]> networks, ImageMetrics image, Boolean sameClass, double maxProbChange) { }

    public record Result(Options options, Path workDir, String calibrationHash, List<EngineResult> engines) { }

    private Comparison() { }

    public static Result run(Options o, PrintStream log) {
        Path work = o.workDir();
        try {
            Files.createDirectories(work);
            Path image = work.resolve("input.safetensors");
            SafetensorsWriter.write(image, Map.of("image", o.image()));
            Path calibration = o.calibration();
            if (calibration == null && o.engines().stream().anyMatch(EngineSpec::quantized)) {
                calibration = work.resolve("calibration.json");
                log.println("compare: no --calibration given; calibrating on the input image itself (" + o.steps() + " steps)");
                calibrateOnInput(o, calibration);
            }
            Path inputs = work.resolve("network-inputs.safetensors");
            List<EngineResult> results = new ArrayList<>();
            for (int i = 0; i < o.engines().size(); i++) {
                EngineSpec e = o.engines().get(i);
                Path dir = work.resolve(String.format(java.util.Locale.ROOT, "%02d-%s-%s", i, e.backend(), e.precision()));
                CompareWorker.Request req = new CompareWorker.Request(o.weights() == null ? null : o.weights().toString(),
                        o.config() == null ? null : o.config().toString(), e.toString(), calibration == null ? null : calibration.toString(),
                        image.toString(), o.steps(), o.seed(), o.cfgText(), o.cfgImage(), o.scmWeight(), o.maxPasses(), o.warmup(), o.runs(),
                        i == 0, inputs.toString(), dir.toString());
                log.println("compare: " + e + (i == 0 ? " (reference)" : "") + " ...");
                String failure = o.inProcess() ? inProcess(req, log) : inWorker(req, dir, o.workerTimeoutSeconds());
                results.add(read(e, dir, failure));
                if (i == 0 && !"ran".equals(results.get(0).status())) {
                    throw new IllegalStateException("the reference engine " + e + " did not run: " + results.get(0).reason());
                }
            }
            return new Result(o, work, calibration == null ? null : Calibration.read(calibration).hash(), withDeviations(results, work));
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
    }

    private static void calibrateOnInput(Options o, Path file) {
        AutoDIRModels models = o.weights() == null ? randomModels() : AutoDIRModels.load(o.weights(), o.config() == null ? ModelYaml.none() : ModelYaml.read(o.config()));
        try (models) {
            Calibration c = Calibrator.calibrate(models, CLIPTokenizer.loadDefault(),
                    List.of(new Calibrator.Input(o.image(), new Calibration.Image(o.imageName(), "-", o.image().dim(3), o.image().dim(2)))),
                    QuantRecipe.defaults(List.of(), List.of()), new Calibration.Settings(o.steps(), o.seed(), 1.0, 0.5, o.maxPasses()));
            c.write(file);
        }
    }

    private static AutoDIRModels randomModels() {
        var c = dev.autodir.model.AutoDIRConfig.official();
        return new AutoDIRModels(new dev.autodir.io.RandomWeightStore(c, 7), c);
    }

    private static String inProcess(CompareWorker.Request req, PrintStream log) {
        try {
            CompareWorker.run(req, log);
            return null;
        } catch (Exception | OutOfMemoryError e) {
            return e.toString();
        }
    }

    /** Runs the worker in a JVM like this one (same java, flags and class path); returns null or why it failed. */
    private static String inWorker(CompareWorker.Request req, Path dir, long timeoutSeconds) throws IOException {
        Files.createDirectories(dir);
        Path request = dir.resolve("request.json");
        new ObjectMapper().writeValue(request.toFile(), req);
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib:jdwp") && !a.startsWith("-javaagent")) cmd.add(a);
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(CompareWorker.class.getName());
        cmd.add(request.toString());
        Path log = dir.resolve("worker.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "timed out after " + timeoutSeconds + " s (log: " + log + ")";
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            return "interrupted";
        }
        if (p.exitValue() == 0) return null;
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        String last = lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        return "worker exited with status " + p.exitValue() + (last.isEmpty() ? "" : ": " + last) + " (log: " + log + ")";
    }

    private static EngineResult read(EngineSpec e, Path dir, String failure) throws IOException {
        Path json = dir.resolve("result.json");
        if (failure != null || !Files.exists(json)) {
            return new EngineResult(e, "failed", failure == null ? "no result written" : failure, null, Map.of(), -1, List.of(), null, null);
        }
        JsonNode r = new ObjectMapper().readTree(json.toFile());
        if (!"ran".equals(r.path("status").asText())) {
            return new EngineResult(e, r.path("status").asText(), r.path("reason").asText(), null, Map.of(), -1, List.of(), null, null);
        }
        Map<String, List<Double>> byStage = new LinkedHashMap<>();
        for (JsonNode run : r.path("runs")) run.fields().forEachRemaining(f -> byStage.computeIfAbsent(f.getKey(), k -> new ArrayList<>()).add(f.getValue().asDouble()));
        Map<String, Double> median = new LinkedHashMap<>();
        byStage.forEach((k, v) -> median.put(k, median(v)));
        List<String> classes = new ArrayList<>();
        r.path("classes").forEach(c -> classes.add(c.isNull() ? null : c.asText()));
        return new EngineResult(e, "ran", null, r.path("backend").asText(), median, r.path("peak_rss_bytes").asLong(-1), classes,
                r.path("main0").isMissingNode() ? null : r.path("main0").asText(), null);
    }

    static double median(List<Double> v) {
        double[] a = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    private static List<EngineResult> withDeviations(List<EngineResult> results, Path work) {
        EngineResult ref = results.get(0);
        Path refDir = engineDir(work, 0, ref.engine());
        List<EngineResult> out = new ArrayList<>();
        try (WeightStore refNets = WeightStore.open(refDir.resolve("networks.safetensors"));
             WeightStore refOut = WeightStore.open(refDir.resolve("outputs.safetensors"))) {
            for (int i = 0; i < results.size(); i++) {
                EngineResult r = results.get(i);
                if (!"ran".equals(r.status())) {
                    out.add(r);
                    continue;
                }
                Path dir = engineDir(work, i, r.engine());
                try (WeightStore nets = WeightStore.open(dir.resolve("networks.safetensors"));
                     WeightStore outs = WeightStore.open(dir.resolve("outputs.safetensors"))) {
                    Map<String, double[]> dev = new LinkedHashMap<>();
                    for (String k : refNets.keys()) {
                        FloatTensor a = nets.readFloat(k), b = refNets.readFloat(k);
                        dev.put(k, new double[] {a.relL2(b), a.maxAbsDiff(b)});
                    }
                    ImageMetrics im = ImageMetrics.of(outs.readFloat("final"), refOut.readFloat("final"));
                    Boolean same = ref.main0() == null || r.main0() == null ? null : ref.main0().equals(r.main0());
                    double probChange = Double.NaN;
                    if (outs.contains("probs0") && refOut.contains("probs0")) probChange = outs.readFloat("probs0").maxAbsDiff(refOut.readFloat("probs0"));
                    out.add(new EngineResult(r.engine(), r.status(), r.reason(), r.backend(), r.medianMs(), r.peakRssBytes(), r.classes(), r.main0(),
                            new Deviation(dev, im, same, probChange)));
                }
            }
        }
        return out;
    }

    static Path engineDir(Path work, int i, EngineSpec e) {
        return work.resolve(String.format(java.util.Locale.ROOT, "%02d-%s-%s", i, e.backend(), e.precision()));
    }

    /** For messages. */
    static String shape(FloatTensor t) { return Arrays.toString(t.shape()); }
}
