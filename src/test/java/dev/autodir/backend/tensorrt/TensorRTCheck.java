package dev.autodir.backend.tensorrt;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Precision;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.cuda.CudaOps;
import dev.autodir.bench.NetworkBench;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Device check of the tensorrt backend, run by benchmarks/gpu-check.sh when the GPU machine has libnvinfer: for each
 * network (default scm, vae-decode, unet: cheapest build first) at SIZE² with random weights of the official shapes
 * (seed 7) on {@link NetworkBench}'s inputs (seed 1234), builds the engine (or loads it from the cache), times it
 * (median of 20 runs after 3), times the cuda backend in fp16 in the same process, and compares the engine's output
 * with the cuda backend in fp32 (the path golden-check verified), the cuda backend in fp16 and the cpu backend.
 * Gates against cuda fp32: an fp32 engine rel-L2 ≤ 1e-4 (float32 throughout, TF32 off; only tactics' summation orders
 * differ), an fp16 or bf16 engine ≤ 2 × the cuda fp16 error, and at least 1e-2 (fp16) or 4e-2 (bf16: 8 mantissa bits).
 *
 * <p>Usage: {@code TensorRTCheck [--opt-level N] [--precision fp16|fp32|bf16] [--no-cpu] [SIZE [NETWORK...]]}.
 * {@code --opt-level} writes a recipes file with that builder optimisation level for every network (a lower level
 * builds faster, for a device budget). Prints {@code TRT} lines; exit status 0 all passed, 1 a failure, 2 skipped
 * (no TensorRT).
 */
public final class TensorRTCheck {
    private TensorRTCheck() { }

    public static void main(String[] args) throws IOException {
        List<String> rest = new ArrayList<>(Arrays.asList(args));
        int optLevel = -1;
        EnginePrecision precision = EnginePrecision.FP16;
        boolean cpu = true;
        while (!rest.isEmpty() && rest.get(0).startsWith("--")) {
            String a = rest.remove(0);
            switch (a) {
                case "--opt-level" -> optLevel = Integer.parseInt(rest.remove(0));
                case "--precision" -> precision = EnginePrecision.parse(rest.remove(0));
                case "--no-cpu" -> cpu = false;
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        int size = rest.isEmpty() ? 512 : Integer.parseInt(rest.remove(0));
        List<String> nets = rest.isEmpty() ? List.of("scm", "vae-decode", "unet") : rest;
        String reason = TensorRTAvailability.unavailableReason();
        if (reason != null) {
            System.out.println("TRT SKIPPED: tensorrt backend unavailable: " + reason);
            System.exit(2);
        }
        TensorRTSettings settings = TensorRTSettings.fromProperties().withPrecision(precision);
        if (optLevel >= 0) {
            Path recipes = Files.createTempFile("autodir-recipes-", ".yaml");
            Files.writeString(recipes, "format: 1\ndefaults: {optimization-level: " + optLevel + ", workspace-mib: 8192}\n");
            settings = settings.withRecipes(recipes);
        }
        AutoDIRConfig cfg = AutoDIRConfig.official();
        CLIPTokenizer tokenizer = CLIPTokenizer.loadDefault();
        List<String> failures = new ArrayList<>();
        try (AutoDIRModels models = new AutoDIRModels(new RandomWeightStore(cfg, 7), cfg);
             TensorRTOps trt = TensorRTOps.open(precision == EnginePrecision.FP16 ? Precision.FP16 : Precision.FP32, settings, System.out)) {
            System.out.println("TRT " + trt.describe().lines().findFirst().orElse(""));
            for (String name : nets) {
                try {
                    check(models, trt, NetworkBench.Network.parse(name), size, tokenizer, precision, cpu, failures);
                } catch (RuntimeException e) {
                    System.out.println("TRT " + name + " FAIL: " + e);
                    e.printStackTrace(System.out);
                    failures.add(name + ": " + e.getMessage());
                }
            }
        }
        System.out.println(failures.isEmpty() ? "TRT all passed" : "TRT FAILED: " + String.join("; ", failures));
        System.exit(failures.isEmpty() ? 0 : 1);
    }

    private static void check(AutoDIRModels models, TensorRTOps trt, NetworkBench.Network net, int size, CLIPTokenizer tokenizer,
                              EnginePrecision precision, boolean cpu, List<String> failures) {
        String name = net.cliName();
        long t0 = System.nanoTime();
        FloatTensor engineOut;
        double engineMs;
        try (NetworkBench b = new NetworkBench(models, trt, net, size, tokenizer)) {
            double buildS = (System.nanoTime() - t0) / 1e9;
            long r0 = System.nanoTime();
            b.run();   // the first run: CUDA graph capture
            double firstMs = (System.nanoTime() - r0) / 1e6;
            engineMs = median(b);
            engineOut = b.run();
            System.out.printf(Locale.ROOT, "TRT %-10s %s: export+build/load %.1f s, first run %.1f ms, median %.3f ms (%s)%n", name, precision.lower(),
                    buildS, firstMs, engineMs, b.describe());
        }
        finite(name + " tensorrt", engineOut);
        FloatTensor cuda32 = reference(() -> new CudaOps(Precision.FP32), models, net, size, tokenizer, null);
        double[] cuda16Ms = new double[1];
        FloatTensor cuda16 = reference(() -> new CudaOps(Precision.FP16), models, net, size, tokenizer, cuda16Ms);
        double e16 = cuda16.relL2(cuda32), eTrt = engineOut.relL2(cuda32);
        double gate = switch (precision) {
            case FP32 -> 1e-4;
            case FP16 -> Math.max(1e-2, 2 * e16);
            case BF16 -> Math.max(4e-2, 2 * e16);
        };
        boolean ok = eTrt <= gate;   // NaN fails
        System.out.printf(Locale.ROOT, "TRT %-10s speed: engine %.3f ms, cuda fp16 %.3f ms (same process), engine / cuda fp16 %.2f%n", name, engineMs,
                cuda16Ms[0], engineMs / cuda16Ms[0]);
        System.out.printf(Locale.ROOT, "TRT %-10s rel-L2 vs cuda fp32: engine %.3e gate %.1e %s (cuda fp16 %.3e)%n", name, eTrt, gate, ok ? "PASS" : "FAIL", e16);
        if (!ok) failures.add(name + " rel-L2 " + eTrt);
        if (cpu) {
            FloatTensor c = reference(CpuOps::new, models, net, size, tokenizer, null);
            System.out.printf(Locale.ROOT, "TRT %-10s rel-L2 vs cpu: engine %.3e, cuda fp32 %.3e%n", name, engineOut.relL2(c), cuda32.relL2(c));
        }
    }

    private static double median(NetworkBench b) {
        for (int i = 0; i < 3; i++) b.run();
        double[] ms = new double[20];
        for (int i = 0; i < ms.length; i++) {
            long s = System.nanoTime();
            b.run();
            ms[i] = (System.nanoTime() - s) / 1e6;
        }
        Arrays.sort(ms);
        return (ms[9] + ms[10]) / 2;
    }

    private static FloatTensor reference(Supplier<Ops> backend, AutoDIRModels models, NetworkBench.Network net, int size, CLIPTokenizer tokenizer,
                                         double[] medianMs) {
        try (Ops ops = backend.get(); NetworkBench b = new NetworkBench(models, ops, net, size, tokenizer)) {
            b.run();
            if (medianMs != null) medianMs[0] = median(b);
            FloatTensor out = b.run();
            finite(net.cliName() + " " + ops.name(), out);
            return out;
        }
    }

    private static void finite(String what, FloatTensor t) {
        for (float v : t.data()) if (!Float.isFinite(v)) throw new IllegalStateException(what + ": non-finite output");
    }
}
