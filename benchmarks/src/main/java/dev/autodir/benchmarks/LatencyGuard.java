package dev.autodir.benchmarks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Precision;
import dev.autodir.bench.NetworkBench;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.text.CLIPTokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The per-step latency guard: fails when one UNet step, a VAE decode or an SCM evaluation has become slower.
 *
 * <p>Absolute times move with the machine's load, so the guard compares a ratio measured in one JVM: each network's
 * time over the time of a fixed calibration workload that does not use the engine's code (OpenBLAS sgemm of 512³ on
 * every core and a streaming loop on the cpu; cuBLAS sgemm of 4096³ on cuda), run just before and just after each
 * network evaluation (the ratio uses their mean), interleaved over the rounds, so a load change moves both. The
 * median ratio over the rounds (15 by default) is compared with the committed baseline of the same backend
 * (benchmarks/latency-guard/BACKEND-baseline.json: the ratios, the machine they were measured on, the run-to-run
 * spread and the margin derived from it): above baseline · (1 + margin) fails.
 *
 * <pre>
 * mvn -q -B -Platency-guard verify                                  # cpu, against cpu-baseline.json
 * mvn -q -B -Platency-guard verify -Dguard.baseline=none             # measure only (target/latency-guard.json)
 * mvn -q -B -Platency-guard verify -Dguard.backend=cuda             # the GPU form (gpu-check.sh runs it)
 * java ... LatencyGuard --make-baseline OUT --machine TEXT RUN.json ... # a new baseline from several runs
 * </pre>
 *
 * Sizes: on the cpu backend the networks run at official widths with random weights but on a 256² image (32×32
 * latent), so one guard run takes minutes, not tens of minutes, on 2 cores; on cuda at 512².
 *
 * <p>Self-test hook: {@code -Dautodir.guard.plantedSlowdown=F} makes every timed UNet evaluation of this class last
 * (1 + F) times as long (a busy wait after it); nothing else reads the property. It exists to show that the guard
 * catches a slowdown of that size.
 */
public final class LatencyGuard {
    static final List<String> NETWORKS = List.of("unet", "vae-decode", "scm");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private LatencyGuard() { }

    public static void main(String[] args) throws IOException {
        if (args.length > 0 && args[0].equals("--make-baseline")) {
            makeBaseline(args);
            return;
        }
        String backend = "cpu";
        Path baseline = null, out = Path.of("target", "latency-guard.json");
        int rounds = 15, warmup = 2, size = -1;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backend" -> backend = args[++i];
                case "--baseline" -> {
                    String v = args[++i];
                    baseline = v.isEmpty() || v.equals("none") ? null : Path.of(v);
                }
                case "--out" -> out = Path.of(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--size" -> size = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("latency guard: unknown argument " + args[i]);
            }
        }
        if (size < 0) size = backend.equals("cpu") ? 256 : 512;
        double planted = Double.parseDouble(System.getProperty("autodir.guard.plantedSlowdown", "0"));
        ObjectNode result = measure(backend, size, rounds, warmup, planted);
        Files.createDirectories(out.toAbsolutePath().getParent());
        JSON.writeValue(out.toFile(), result);
        System.out.println("latency guard: results in " + out);
        if (baseline == null) return;
        int failures = compare(result, JSON.readTree(baseline.toFile()), baseline);
        if (failures > 0) {
            System.out.println("latency guard: FAILED (" + failures + " network" + (failures == 1 ? "" : "s") + " slower than the baseline allows)");
            System.exit(1);
        }
        System.out.println("latency guard: passed");
    }

    static ObjectNode measure(String backend, int size, int rounds, int warmup, double planted) {
        AutoDIRConfig cfg = AutoDIRConfig.official();
        ObjectNode result = JSON.createObjectNode();
        result.put("backend", backend);
        result.put("size", size);
        result.put("rounds", rounds);
        result.put("planted_unet_slowdown", planted);
        result.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        result.put("cores", Runtime.getRuntime().availableProcessors());
        result.put("load_average_before", procLine("/proc/loadavg"));
        Map<String, double[]> ratios = new LinkedHashMap<>(), netMs = new LinkedHashMap<>(), calMs = new LinkedHashMap<>();
        try (AutoDIRModels models = new AutoDIRModels(new RandomWeightStore(cfg, RandomWeightStore.SPEC_SEED), cfg);
             StageBackends backends = Backends.create(BackendSpec.all(backend), backend.equals("cpu") ? Precision.FP32 : Precision.FP16, System.err);
             Calibration cal = backend.equals("cpu") ? new CpuCalibration() : new CudaCalibration()) {
            List<NetworkBench> benches = new ArrayList<>();
            for (String n : NETWORKS) {
                NetworkBench b = new NetworkBench(models, backends.unet(), NetworkBench.Network.parse(n), size, CLIPTokenizer.loadDefault());
                b.run();                                              // weight conversion / upload outside the timing
                benches.add(b);
                ratios.put(n, new double[rounds]);
                netMs.put(n, new double[rounds]);
                calMs.put(n, new double[rounds]);
            }
            for (int r = -warmup; r < rounds; r++) {
                for (int k = 0; k < benches.size(); k++) {
                    String n = NETWORKS.get(k);
                    double before = cal.runMs();
                    long t0 = System.nanoTime();
                    benches.get(k).run();
                    long t1 = System.nanoTime();
                    if (n.equals("unet") && planted > 0) spin((long) ((t1 - t0) * planted));
                    double ms = (System.nanoTime() - t0) / 1e6;
                    double c = (before + cal.runMs()) / 2;                   // the calibration bracketing the network
                    if (r < 0) continue;
                    netMs.get(n)[r] = ms;
                    calMs.get(n)[r] = c;
                    ratios.get(n)[r] = ms / c;
                }
                if (r >= 0) System.out.printf(Locale.ROOT, "round %d: %s%n", r + 1, roundLine(NETWORKS, ratios, r));
            }
        }
        result.put("load_average_after", procLine("/proc/loadavg"));
        ObjectNode med = result.putObject("ratios"), nms = result.putObject("network_ms"), cms = result.putObject("calibration_ms");
        ObjectNode samples = result.putObject("ratio_samples");
        for (String n : NETWORKS) {
            med.put(n, median(ratios.get(n)));
            nms.put(n, median(netMs.get(n)));
            cms.put(n, median(calMs.get(n)));
            var a = samples.putArray(n);
            for (double v : ratios.get(n)) a.add(v);
        }
        return result;
    }

    private static String procLine(String file) {
        try {
            return Files.readAllLines(Path.of(file)).get(0).trim();
        } catch (IOException | RuntimeException e) {
            return "unavailable";
        }
    }

    private static String roundLine(List<String> nets, Map<String, double[]> ratios, int r) {
        StringBuilder s = new StringBuilder();
        for (String n : nets) s.append(String.format(Locale.ROOT, "%s %.4f  ", n, ratios.get(n)[r]));
        return s.toString().trim();
    }

    /** Prints the comparison; returns how many networks exceed baseline · (1 + margin). */
    static int compare(JsonNode result, JsonNode baseline, Path file) {
        if (!baseline.path("backend").asText().equals(result.path("backend").asText()) || baseline.path("size").asInt() != result.path("size").asInt()) {
            throw new IllegalArgumentException(file + " is the baseline of backend " + baseline.path("backend").asText() + " at size "
                    + baseline.path("size").asInt() + ", this run is " + result.path("backend").asText() + " at " + result.path("size").asInt());
        }
        System.out.println("baseline " + file + ": measured on " + baseline.path("machine").asText() + " (" + baseline.path("date").asText() + ")");
        System.out.printf(Locale.ROOT, "%-11s %10s %10s %8s %8s  %s%n", "network", "ratio", "baseline", "change", "margin", "result");
        int failures = 0;
        for (String n : NETWORKS) {
            double now = result.path("ratios").path(n).asDouble(), base = baseline.path("ratios").path(n).asDouble();
            double margin = baseline.path("margins").path(n).asDouble(), change = now / base - 1;
            boolean slow = now > base * (1 + margin);
            if (slow) failures++;
            System.out.printf(Locale.ROOT, "%-11s %10.4f %10.4f %+7.1f%% %7.1f%%  %s%n", n, now, base, 100 * change, 100 * margin,
                    slow ? "FAIL (slower)" : change < -margin ? "pass (faster than the margin: a new baseline may be due)" : "pass");
        }
        return failures;
    }

    /**
     * A baseline from several guard runs (separate JVMs): per network the median of the runs' median ratios, the
     * run-to-run spread s = max |r_run / median − 1|, and the margin max(5%, 2·s).
     */
    static void makeBaseline(String[] args) throws IOException {
        Path out = Path.of(args[1]);
        if (!args[2].equals("--machine")) throw new IllegalArgumentException("usage: --make-baseline OUT --machine TEXT RUN.json...");
        String machine = args[3];
        List<JsonNode> runs = new ArrayList<>();
        for (int i = 4; i < args.length; i++) runs.add(JSON.readTree(Path.of(args[i]).toFile()));
        if (runs.size() < 3) throw new IllegalArgumentException("a baseline needs at least 3 runs to measure a spread, got " + runs.size());
        JsonNode first = runs.get(0);
        ObjectNode b = JSON.createObjectNode();
        b.put("backend", first.path("backend").asText());
        b.put("size", first.path("size").asInt());
        b.put("machine", machine);
        b.put("date", java.time.LocalDate.now().toString());
        b.put("runs", runs.size());
        b.put("rule", "fail when a ratio exceeds baseline * (1 + margin); margin = max(0.05, 2 * spread), spread = max over"
                + " the runs of |run median / median - 1|");
        ObjectNode ratios = b.putObject("ratios"), spreads = b.putObject("spreads"), margins = b.putObject("margins");
        ObjectNode each = b.putObject("run_ratios");
        for (String n : NETWORKS) {
            double[] r = runs.stream().mapToDouble(j -> j.path("ratios").path(n).asDouble()).toArray();
            double m = median(r), s = 0;
            for (double v : r) s = Math.max(s, Math.abs(v / m - 1));
            ratios.put(n, m);
            spreads.put(n, s);
            margins.put(n, Math.max(0.05, 2 * s));
            var a = each.putArray(n);
            for (double v : r) a.add(v);
        }
        JSON.writeValue(out.toFile(), b);
        System.out.println("baseline written to " + out + ": " + b.path("ratios") + " margins " + b.path("margins"));
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private static void spin(long nanos) {
        long end = System.nanoTime() + nanos;
        long x = 0;
        while (System.nanoTime() < end) x++;
        if (x == 42) System.out.print("");                           // keeps the loop
    }

    /** A fixed amount of work that does not run the engine's code. */
    interface Calibration extends AutoCloseable {
        double runMs();

        @Override void close();
    }
}
