package dev.autodir.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Precision;
import dev.autodir.backend.StagePlacement;
import dev.autodir.bench.Machine;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.bench.NetworkBench;
import dev.autodir.compare.EngineSpec;
import dev.autodir.compare.Engines;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.Calibrator;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code autodir bench}: the median time of one network evaluation. */
@Command(name = "bench",
        description = {"Time one network evaluation (median of --runs after --warmup) at a given image size, with random"
                + " weights of the official sizes unless --weights is given. Prints the median, min and max in ms and the"
                + " achieved rate of the matrix work (convolutions, linear layers, attention) in TFLOP/s, or with --json"
                + " one JSON object (times, spread, the backend and precision that really ran, the machine) for scripts."})
final class BenchCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Spec CommandSpec spec;

    @Option(names = "--network", required = true, paramLabel = "NAME",
            description = "unet (one evaluation at a size/8 latent), vae-encode, vae-decode, scm, clip-vision (its own 224), clip-text (8 prompts).")
    String network;

    @Option(names = "--size", defaultValue = "512", paramLabel = "PX", description = "Image side in pixels. Default: ${DEFAULT-VALUE}.")
    int size;

    @Option(names = "--backend", defaultValue = "cpu", paramLabel = "NAME", description = "cpu, cuda, onnxruntime or tensorrt. Default: ${DEFAULT-VALUE}.")
    String backend;

    @Option(names = "--precision", defaultValue = "fp32", paramLabel = "P",
            description = "fp32, fp16 (device backends), or int8 / fp8: the QDQ graph of --calibration (onnxruntime, tensorrt;"
                    + " cpu simulates it in float32; cuda runs its linear and 1x1 layers through cuBLASLt's INT8/FP8"
                    + " products, the rest in FP16). Default: ${DEFAULT-VALUE}.")
    String precision;

    @Option(names = "--calibration", paramLabel = "FILE|inputs",
            description = "For --precision int8 / fp8: a calibration of these weights (`autodir calibrate`), or `inputs` to"
                    + " calibrate on the bench's own seeded inputs (for timing; the scales then fit only these inputs)."
                    + " A quantized run also prints its output's deviation from the cpu backend in float32.")
    String calibration;

    @Option(names = "--strict-backend",
            description = "Fail instead of falling back to cpu when the backend cannot start (or does not offer --precision).")
    boolean strictBackend;

    @Option(names = "--weights", paramLabel = "FILE", description = "A checkpoint to time instead of random weights of the official sizes (or random:tiny).")
    java.nio.file.Path weights;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML config for --weights (head counts, schedule).")
    java.nio.file.Path config;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "N", description = "Untimed runs first. Default: ${DEFAULT-VALUE}.")
    int warmup;

    @Option(names = "--runs", defaultValue = "5", paramLabel = "N", description = "Timed runs. Default: ${DEFAULT-VALUE}.")
    int runs;

    @Option(names = "--profile", description = "Also print the time per operation kind of one evaluation (synchronised after each operation).")
    boolean profile;

    @Option(names = "--json",
            description = "Print one JSON object instead of text: network, size, weights, backend (requested, used, precision"
                    + " requested and used, fallback reason), first_ms, times_ms (every timed run), median_ms, min_ms, max_ms,"
                    + " spread ((max - min) / median), gflop, tflops, and the machine (cpu model, cores, os, jvm, max heap)"
                    + " with the device backend's description (e.g. the GPU), and how the network was evaluated.")
    boolean json;

    @Override public Integer call() {
        NetworkBench.Network net = NetworkBench.Network.parse(network);
        if (runs < 1) throw new IllegalArgumentException("--runs must be at least 1, got " + runs);
        if (warmup < 0) throw new IllegalArgumentException("--warmup must not be negative, got " + warmup);
        if (size < 1 || size > 8192) throw new IllegalArgumentException("--size must be in 1..8192, got " + size);
        BackendSpec requested = BackendSpec.parse(backend);
        if (!requested.unet().equals(requested.clip()) || !requested.unet().equals(requested.vae()) || !requested.unet().equals(requested.scm())) {
            throw new IllegalArgumentException("--backend for bench is one backend name (cpu, cuda, onnxruntime or tensorrt), got " + backend);
        }
        if (profile && json) throw new IllegalArgumentException("--profile and --json: give one of them");
        boolean quantized = quantized(precision.toLowerCase(Locale.ROOT));
        if (quantized && calibration == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--precision " + precision + " needs --calibration FILE (from `autodir calibrate`) or --calibration inputs");
        }
        if (!quantized && calibration != null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--calibration is for --precision int8 or fp8");
        }
        Precision p = quantized ? Precision.FP32 : Precision.parse(precision);
        PrintWriter out = spec.commandLine().getOut();
        // one backend for every stage: the UNet stage's placement is the backend's
        try (AutoDIRModels models = ModelSource.open(weights, config)) {
            if (quantized) return measureQuantized(models, net, requested.unet(), out);
            try (StageBackends backends = Notices.to(spec.commandLine().getErr(),
                    notices -> Backends.create(BackendSpec.all(requested.unet()), p, strictBackend, notices))) {
                Ops ops = backends.unet();
                StagePlacement placement = backends.report().stage("unet");
                try (NetworkBench b = new NetworkBench(models, ops, net, size, CLIPTokenizer.loadDefault())) {
                    measure(b, ops, net, placement, p.lower(), out);
                }
            }
        }
        return 0;
    }

    /**
     * An INT8 / FP8 engine of {@code backend} (opened as {@code compare} opens it: strictly, never another precision),
     * timed like the float ones, then its output's deviation from the cpu backend's float32 on the same inputs.
     */
    private int measureQuantized(AutoDIRModels models, NetworkBench.Network net, String backendName, PrintWriter out) {
        CLIPTokenizer tok = CLIPTokenizer.loadDefault();
        EngineSpec engine = new EngineSpec(backendName, precision.toLowerCase(Locale.ROOT));
        Calibration cal;
        if (calibration.equals("inputs")) {
            cal = NetworkBench.calibrateOnInputs(models, net, size, tok);
        } else {
            cal = Calibration.read(java.nio.file.Path.of(calibration));
            Calibrator.checkWeights(cal, models.store());
        }
        FloatTensor result;
        try (StageBackends backends = Notices.to(spec.commandLine().getErr(), notices -> Engines.open(engine, cal, notices))) {
            Ops ops = backends.unet();
            try (NetworkBench b = new NetworkBench(models, ops, net, size, tok)) {
                measure(b, ops, net, StagePlacement.asRequested("unet", ops), engine.precision(), out);
                result = b.run();
            }
        } catch (Engines.Unavailable e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        FloatTensor reference;
        try (CpuOps cpu = new CpuOps(); NetworkBench b = new NetworkBench(models, cpu, net, size, tok)) {
            reference = b.run();
        }
        if (!json) {
            out.printf(Locale.ROOT, "deviation from cpu fp32 on the same inputs: rel-L2 %.3g, max |diff| %.3g (calibration %s)%n",
                    result.relL2(reference), result.maxAbsDiff(reference), calibration.equals("inputs") ? "on these inputs" : cal.hash());
            out.flush();
        }
        return 0;
    }

    private void measure(NetworkBench b, Ops ops, NetworkBench.Network net, StagePlacement placement, String p, PrintWriter out) {
        long t0 = System.nanoTime();
        b.run();                                                   // first run: weight conversion / upload
        double firstMs = (System.nanoTime() - t0) / 1e6;
        double flops = b.countFlops();
        for (int i = 1; i < warmup; i++) b.run();
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            long s = System.nanoTime();
            b.run();
            ms[i] = (System.nanoTime() - s) / 1e6;
        }
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        double median = runs % 2 == 1 ? sorted[runs / 2] : (sorted[runs / 2 - 1] + sorted[runs / 2]) / 2;
        String device = ops.describe().equals(ops.name()) ? null : ops.describe();
        if (json) {
            out.print(json(net, placement, p, firstMs, ms, median, flops, device, b.describe()));
        } else {
            out.printf(Locale.ROOT, "%s size %d backend %s precision %s weights %s (%s)%n", net.cliName(), size, placement.backend(),
                    quantized(p) ? p : placement.precision().lower(), weights == null ? "random (official sizes)" : weights, b.describe());
            if (placement.fellBack() || !placement.precision().lower().equals(p) && !quantized(p)) {
                out.printf(Locale.ROOT, "requested backend %s precision %s%s%n", placement.requested(), p,
                        placement.fellBack() ? " (fell back: " + placement.reason() + ")" : "");
            }
            out.printf(Locale.ROOT, "first run %.1f ms (includes weight conversion)%n", firstMs);
            out.printf(Locale.ROOT, "median %.2f ms  min %.2f  max %.2f  (%d runs)  %.1f GFLOP  %.2f TFLOP/s%n",
                    median, sorted[0], sorted[runs - 1], runs, flops / 1e9, flops / 1e12 / (median / 1e3));
            if (profile) out.print(b.profile());
            if (device != null) out.println(device);
        }
        out.flush();
    }

    private String json(NetworkBench.Network net, StagePlacement placement, String requested, double firstMs, double[] ms,
                        double median, double flops, String device, String how) {
        ObjectNode root = JSON.createObjectNode();
        root.put("network", net.cliName());
        root.put("evaluation", how);
        root.put("size", size);
        root.put("weights", weights == null ? "random (official sizes)" : weights.toAbsolutePath().normalize().toString());
        ObjectNode b = root.putObject("backend");
        b.put("requested", placement.requested());
        b.put("used", placement.backend());
        b.put("precision_requested", requested);
        b.put("precision_used", quantized(requested) ? requested : placement.precision().lower());
        b.put("fallback_reason", placement.reason());
        root.put("warmup", warmup);
        root.put("runs", runs);
        root.put("first_ms", firstMs);
        ArrayNode times = root.putArray("times_ms");
        double min = Double.POSITIVE_INFINITY, max = 0;
        for (double t : ms) {
            times.add(t);
            min = Math.min(min, t);
            max = Math.max(max, t);
        }
        root.put("median_ms", median);
        root.put("min_ms", min);
        root.put("max_ms", max);
        root.put("spread", (max - min) / median);
        root.put("gflop", flops / 1e9);
        root.put("tflops", flops / 1e12 / (median / 1e3));
        ObjectNode m = root.putObject("machine");
        Machine.current().asMap().forEach((k, v) -> m.putPOJO(k, v));
        m.put("device", device);
        try {
            return JSON.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the bench result", e);
        }
    }

    /** int8 / fp8: a quantized engine's precision (its placement reports the float32 host backend). */
    private static boolean quantized(String precision) { return precision.equals("int8") || precision.equals("fp8"); }
}
