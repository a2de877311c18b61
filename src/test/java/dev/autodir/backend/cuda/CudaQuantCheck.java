package dev.autodir.backend.cuda;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Precision;
import dev.autodir.bench.NetworkBench;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.QuantFormat;
import dev.autodir.quant.QuantRecipe;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The device check's timing of the cuda INT8/FP8 matrix path (benchmarks/gpu-check.sh, step "quant"; written without a
 * GPU and NOT RUN YET): one UNet evaluation at SIZE² (latent SIZE/8) with random weights of the official sizes, cuda
 * fp16 against cuda:int8 (and cuda:fp8 on compute capability ≥ 8.9), medians of RUNS runs side by side in one process,
 * and each quantized output's rel-L2 from the fp16 one (information: random weights and a synthetic calibration —
 * amax 4 on every input — say nothing of quality). Correctness against FakeQuantOps is CudaQuantizedOpsTest (the
 * "tests" step). Usage: {@code CudaQuantCheck [SIZE [RUNS]]}; one {@code QUANT} line per engine; exit 1 on a failure.
 */
public final class CudaQuantCheck {
    private CudaQuantCheck() { }

    public static void main(String[] args) {
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 512, runs = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        String reason = CudaAvailability.unavailableReason();
        if (reason != null) {
            System.out.println("QUANT SKIPPED: no usable GPU: " + reason);
            System.exit(1);
        }
        AutoDIRConfig cfg = AutoDIRConfig.official();
        boolean ok = true;
        try (AutoDIRModels models = new AutoDIRModels(new RandomWeightStore(cfg, 7), cfg)) {
            Calibration cal = synthetic(models);
            CLIPTokenizer tok = CLIPTokenizer.loadDefault();
            System.out.println("QUANT synthetic calibration: " + cal.layers().size() + " UNet linear / 1x1 layers");
            FloatTensor fp16 = null;
            double fp16Ms = Double.NaN;
            for (String engine : List.of("fp16", "int8", "fp8")) {
                try (Ops ops = open(engine, cal)) {
                    if (ops == null) continue;
                    double[] t = new double[runs];
                    FloatTensor out;
                    try (NetworkBench b = new NetworkBench(models, ops, NetworkBench.Network.UNET, size, tok)) {
                        out = b.run();
                        b.run();
                        for (int i = 0; i < runs; i++) {
                            long s = System.nanoTime();
                            b.run();
                            t[i] = (System.nanoTime() - s) / 1e6;
                        }
                    }
                    Arrays.sort(t);
                    double median = t[runs / 2];
                    if (engine.equals("fp16")) {
                        fp16 = out;
                        fp16Ms = median;
                    }
                    System.out.printf(Locale.ROOT, "QUANT unet %d cuda:%-4s median %8.2f ms (min %.2f, max %.2f)%s%n", size, engine, median, t[0],
                            t[runs - 1], fp16 == out ? "" : String.format(Locale.ROOT, "  %.2fx of fp16, rel-L2 from fp16 %.3g", median / fp16Ms,
                                    out.relL2(fp16)));
                    System.out.println("QUANT   " + ops.describe().replace('\n', ' '));
                } catch (RuntimeException e) {
                    ok = false;
                    System.out.println("QUANT unet cuda:" + engine + " FAIL: " + e);
                    e.printStackTrace(System.out);
                }
            }
        }
        System.exit(ok ? 0 : 1);
    }

    /** cuda fp16, or the quantized engine; null (with a line saying why) for fp8 below compute capability 8.9. */
    private static Ops open(String engine, Calibration cal) {
        if (engine.equals("fp16")) return new CudaOps(Precision.FP16);
        try {
            return CudaQuantizedOps.open(cal, QuantFormat.parse(engine), System.out);
        } catch (IllegalStateException e) {
            System.out.println("QUANT unet cuda:" + engine + " SKIPPED: " + e.getMessage());
            return null;
        }
    }

    /** amax 4 at the input of every UNet linear layer and 1x1 convolution the default recipe quantizes. */
    static Calibration synthetic(AutoDIRModels models) {
        QuantRecipe recipe = QuantRecipe.defaults(List.of(), List.of());
        Map<String, Calibration.Layer> layers = new LinkedHashMap<>();
        for (String k : models.store().keys()) {
            if (!k.startsWith("model.diffusion_model.") || !k.endsWith(".weight") || !recipe.quantizes(k)) continue;
            int[] s = models.store().info(k).shape();
            if (s.length == 2) layers.put(k, new Calibration.Layer("linear", 4, 4, 1, null));
            else if (s.length == 4 && s[2] == 1 && s[3] == 1) layers.put(k, new Calibration.Layer("conv2d", 4, 4, 1, null));
        }
        return new Calibration("synthetic", new Calibration.Settings(0, 0, 1.0, 0, 0), List.of(), List.of(), layers);
    }
}
