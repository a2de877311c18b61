package dev.autodir.analysis;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.Network;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.onnx.ExportedModel;
import dev.autodir.backend.onnx.OnnxExporter;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.Networks;
import dev.autodir.tensor.FloatTensor;

import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The check of issue 9's "Done when", run by hand (not a unit test: 3.4 GB of weights, minutes):
 * {@code OnnxUNetCheck DIR [SIZE] [OPT]} loads {@code DIR/unet.onnx}, as {@code autodir export-onnx --network unet
 * --size SIZE -o DIR} wrote it from the random weights of the official sizes (seed 7, {@code --weights} omitted),
 * runs it once in a plain ONNX Runtime session (CPU, graph optimisation OPT: all (default), extended, basic or none)
 * and the same network once on the cpu backend, on the same random inputs, and prints the rel-L2 between the two,
 * with the times and the peak resident memory. It reads the export with ONNX Runtime's own API, not through the
 * onnxruntime backend, so the file is checked as another program would load it. Exits 1 above rel-L2 1e-5.
 */
public final class OnnxUNetCheck {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int size = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        String opt = args.length > 2 ? args[2] : "all";
        ExportedModel export = OnnxExporter.read(OnnxExporter.manifestPath(dir, "unet"));
        AutoDIRConfig cfg = AutoDIRConfig.official();
        SplittableRandom r = new SplittableRandom(99);
        FloatTensor ref, got;
        Map<String, FloatTensor> in;
        try (AutoDIRModels models = new AutoDIRModels(new RandomWeightStore(cfg, 7), cfg)) {
            Network unet = Networks.forExport("unet", models, size);
            if (!unet.inputs().equals(export.inputs())) throw new IllegalStateException("export inputs " + export.inputs() + " ≠ " + unet.inputs());
            in = Map.of("x", random(r, unet.inputs().get(0).shape()), "timesteps", new FloatTensor(new float[] {500.5f}, 1),
                    "context", random(r, unet.inputs().get(2).shape()));
            long t0 = System.nanoTime();
            try (CpuOps cpu = new CpuOps(); CompiledNetwork c = cpu.compile(unet)) {
                Map<String, Tensor> feed = Map.of("x", in.get("x"), "timesteps", in.get("timesteps"), "context", in.get("context"));
                ref = cpu.download(c.run(feed).get("eps"));
            }
            System.out.printf(Locale.ROOT, "cpu backend: one UNet evaluation at %s: %.1f s (first run, includes the weights' conversion); peak RSS so far %.2f GB%n",
                    unet.inputs().get(0).describe(), (System.nanoTime() - t0) / 1e9, peakRssGb());
        }
        System.gc();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(Runtime.getRuntime().availableProcessors());
            o.setOptimizationLevel(switch (opt) {
                case "none" -> OrtSession.SessionOptions.OptLevel.NO_OPT;
                case "basic" -> OrtSession.SessionOptions.OptLevel.BASIC_OPT;
                case "extended" -> OrtSession.SessionOptions.OptLevel.EXTENDED_OPT;
                default -> OrtSession.SessionOptions.OptLevel.ALL_OPT;
            });
            long t0 = System.nanoTime();
            try (OrtSession s = env.createSession(export.model().toString(), o)) {
                double loadS = (System.nanoTime() - t0) / 1e9;
                OnnxTensor x = tensor(env, in.get("x")), t = tensor(env, in.get("timesteps")), c = tensor(env, in.get("context"));
                try (x; t; c) {
                    double[] runS = new double[2];
                    got = null;
                    for (int i = 0; i < 2; i++) {
                        long t1 = System.nanoTime();
                        try (OrtSession.Result res = s.run(Map.of("x", x, "timesteps", t, "context", c))) {
                            FloatBuffer fb = ((OnnxTensor) res.get("eps").orElseThrow()).getFloatBuffer();
                            float[] d = new float[fb.remaining()];
                            fb.get(d);
                            got = new FloatTensor(d, ref.shape());
                        }
                        runS[i] = (System.nanoTime() - t1) / 1e9;
                    }
                    System.out.printf(Locale.ROOT, "onnxruntime %s (CPU, optimisation %s): session load %.1f s, first run %.1f s, second %.1f s; peak RSS %.2f GB%n",
                            env.getVersion(), opt, loadS, runS[0], runS[1], peakRssGb());
                }
            }
        }
        double rel = got.relL2(ref);
        System.out.printf(Locale.ROOT, "rel-L2(onnxruntime, cpu) = %.3e over %d values (tolerance 1e-5): %s; export %s (%.2f GB data, weights sha256 %s)%n",
                rel, ref.numel(), rel <= 1e-5 ? "PASS" : "FAIL", export.model(), Files.size(export.externalData()) / 1e9, export.weightsHash());
        System.exit(rel <= 1e-5 ? 0 : 1);
    }

    private static OnnxTensor tensor(OrtEnvironment env, FloatTensor t) throws Exception {
        long[] shape = new long[t.rank()];
        for (int i = 0; i < shape.length; i++) shape[i] = t.dim(i);
        return OnnxTensor.createTensor(env, FloatBuffer.wrap(t.data()), shape);
    }

    private static FloatTensor random(SplittableRandom r, int... shape) {
        FloatTensor t = FloatTensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) (2 * r.nextDouble() - 1);
        return t;
    }

    /** VmHWM of this process. */
    static double peakRssGb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024 / 1e9;                 // kB → GB
            }
        } catch (java.io.IOException ignored) {
            // not Linux
        }
        return Double.NaN;
    }
}
