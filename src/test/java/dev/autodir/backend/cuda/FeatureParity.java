package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.bench.NetworkBench;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Device check of the unverified {@link Features} paths at the networks' real sizes (golden set A's tiny model never
 * reaches some of them: its VAE heads are narrow), run by benchmarks/gpu-check.sh: each network of the official
 * shapes with random weights (seed 7) on the inputs of {@link NetworkBench} (seed 1234), on the cuda backend with the
 * features off and on, in FP32 and FP16, against the FP32 run with the features off (the path golden-check verified
 * against the official implementation).
 * <ul>
 *   <li>FP32 with the features on: relative L2 ≤ 1e-5 (float32 everywhere; only summation orders differ; im2col
 *       is FP16-only, so it is not exercised here).</li>
 *   <li>FP16 with the features on: no worse than 1.5 × the FP16 error of the verified paths, or 2e-3 (random
 *       full-size weights can amplify FP16 rounding beyond the per-network 2e-3 that set A's tiny model meets).</li>
 * </ul>
 * Usage: {@code FeatureParity [SIZE [NETWORK...]]} (default 512, unet vae-decode vae-encode scm). Prints one
 * {@code PARITY} line per comparison; exit status 1 when any fails.
 */
public final class FeatureParity {
    private FeatureParity() { }

    public static void main(String[] args) {
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        List<String> nets = args.length > 1 ? List.of(args).subList(1, args.length) : List.of("unet", "vae-decode", "vae-encode", "scm");
        String reason = CudaAvailability.unavailableReason();
        if (reason != null) {
            System.out.println("PARITY SKIPPED: no usable GPU: " + reason);
            System.exit(1);
        }
        AutoDIRConfig cfg = AutoDIRConfig.official();
        CLIPTokenizer tokenizer = CLIPTokenizer.loadDefault();
        List<String> failures = new ArrayList<>();
        try (AutoDIRModels models = new AutoDIRModels(new RandomWeightStore(cfg, 7), cfg)) {
            for (String name : nets) {
                try {
                    compare(models, NetworkBench.Network.parse(name), size, tokenizer, failures);
                } catch (RuntimeException e) {
                    System.out.println("PARITY " + name + " FAIL: " + e);
                    e.printStackTrace(System.out);
                    failures.add(name + ": " + e.getMessage());
                }
            }
        }
        System.out.println(failures.isEmpty() ? "PARITY all passed" : "PARITY FAILED: " + String.join("; ", failures));
        System.exit(failures.isEmpty() ? 0 : 1);
    }

    private static void compare(AutoDIRModels models, NetworkBench.Network net, int size, CLIPTokenizer tokenizer, List<String> failures) {
        String name = net.cliName();
        FloatTensor ref = run(models, net, size, tokenizer, Precision.FP32, Features.NONE);
        FloatTensor fp32On = run(models, net, size, tokenizer, Precision.FP32, Features.ALL);
        FloatTensor fp16Off = run(models, net, size, tokenizer, Precision.FP16, Features.NONE);
        FloatTensor fp16On = run(models, net, size, tokenizer, Precision.FP16, Features.ALL);
        double e32 = fp32On.relL2(ref), e16off = fp16Off.relL2(ref), e16on = fp16On.relL2(ref);
        double gate16 = Math.max(2e-3, 1.5 * e16off);
        report(failures, name, "fp32 features on", e32, 1e-5);
        System.out.printf(Locale.ROOT, "PARITY %-11s %-22s rel-L2 %.3e (the verified FP16 paths' error)%n", name,
                "fp16 features off", e16off);
        report(failures, name, "fp16 features on", e16on, gate16);
    }

    private static void report(List<String> failures, String net, String what, double err, double gate) {
        boolean ok = err <= gate;   // NaN fails
        System.out.printf(Locale.ROOT, "PARITY %-11s %-22s rel-L2 %.3e gate %.1e %s%n", net, what, err, gate, ok ? "PASS" : "FAIL");
        if (!ok) failures.add(net + " " + what);
    }

    private static FloatTensor run(AutoDIRModels models, NetworkBench.Network net, int size, CLIPTokenizer tokenizer, Precision p,
                                   Features f) {
        try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(p).withFeatures(f))) {
            NetworkBench b = new NetworkBench(models, ops, net, size, tokenizer);
            b.run();                 // the first run times the convolution choices (im2col) and converts the weights
            FloatTensor out = b.run();
            for (float v : out.data()) {
                if (!Float.isFinite(v)) throw new IllegalStateException(net.cliName() + " " + p + " features " + f.describe() + ": non-finite output");
            }
            return out;
        }
    }
}
