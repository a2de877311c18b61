package dev.autodir.backend.cuda;

import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.DataType;
import dev.autodir.backend.EagerNetwork;
import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.Networks;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Device check of compiled networks as CUDA graphs (the graphs feature), run by benchmarks/gpu-check.sh. Every network
 * (unet, vae-encode, vae-decode, scm, clip-text, clip-vision, biqa) with random weights of the official sizes, in FP16
 * and FP32, on one backend instance per precision with only the graphs feature on:
 * <ul>
 *   <li>the network is captured ({@code describe()} says CUDA graph; a fallback to eager fails the check and prints
 *       its reason), and its memory plan is printed;</li>
 *   <li>every output equals the eager run of the same network on the same backend (relative L2 ≤ 1e-6 FP32, ≤ 1e-3
 *       FP16; the same kernels in the same order, so bit-identical is expected and counted);</li>
 *   <li>lifetimes: the outputs survive {@code endStage()}; after eager work that spills the shared arena (which then
 *       grows, freeing its old block) and after convolutions that may grow cuDNN's workspace, the next replay gives
 *       the same outputs; an output of the previous run is refused after the next run;</li>
 *   <li>times: median of 10 runs eager and as a graph (synchronised), side by side;</li>
 *   <li>FP32 against the cpu backend at {@code min(SIZE, 256)} (CLIP at its own size): relative L2 ≤ 1e-4 (float32
 *       throughout, summation orders differ through the whole network).</li>
 * </ul>
 * Usage: {@code CompiledNetworkCheck [SIZE [NETWORK...]]} (default 512, all). One {@code COMPILED} line per check;
 * exit status 1 when any fails.
 */
public final class CompiledNetworkCheck {
    private CompiledNetworkCheck() { }

    private static final List<String> failures = new ArrayList<>();

    public static void main(String[] args) {
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        List<String> nets = args.length > 1 ? List.of(args).subList(1, args.length) : Networks.NAMES;
        String reason = CudaAvailability.unavailableReason();
        if (reason != null) {
            System.out.println("COMPILED SKIPPED: no usable GPU: " + reason);
            System.exit(1);
        }
        AutoDIRConfig cfg = AutoDIRConfig.official();
        try (AutoDIRModels models = new AutoDIRModels(new RandomWeightStore(cfg, 7), cfg)) {
            for (Precision p : new Precision[] {Precision.FP16, Precision.FP32}) {
                try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(p).withFeatures(Features.NONE.withGraphs(true)))) {
                    for (String name : nets) guarded(name + " " + p, () -> againstEager(models, ops, name, size));
                }
            }
            int refSize = Math.min(size, 256);
            try (CpuOps cpu = new CpuOps();
                 CudaOps ops = new CudaOps(CudaOps.Options.defaults(Precision.FP32).withFeatures(Features.NONE.withGraphs(true)))) {
                for (String name : nets) guarded(name + " cpu", () -> againstCpu(models, cpu, ops, name, refSize));
            }
        }
        System.out.println(failures.isEmpty() ? "COMPILED all passed" : "COMPILED FAILED: " + String.join("; ", failures));
        System.exit(failures.isEmpty() ? 0 : 1);
    }

    private static void guarded(String what, Runnable check) {
        try {
            check.run();
        } catch (RuntimeException e) {
            System.out.println("COMPILED " + what + " FAIL: " + e);
            e.printStackTrace(System.out);
            failures.add(what + ": " + e.getMessage());
        }
    }

    private static void report(String what, boolean ok, String detail) {
        System.out.printf(Locale.ROOT, "COMPILED %-28s %s  %s%n", what, ok ? "PASS" : "FAIL", detail);
        if (!ok) failures.add(what + ": " + detail);
    }

    private static void againstEager(AutoDIRModels models, CudaOps ops, String name, int size) {
        String what = name + " " + ops.precision();
        Network net = Networks.forExport(name, models, size);
        Map<String, Tensor> in = inputs(models, ops, net, 1234);
        double tol = ops.precision() == Precision.FP32 ? 1e-6 : 1e-3;
        EagerNetwork eager = new EagerNetwork(ops, net);
        Map<String, FloatTensor> ref = download(ops, eager.run(in));
        ops.endStage();
        try (CompiledNetwork g = ops.compile(net)) {
            Map<String, Tensor> first = g.run(in);
            boolean captured = g instanceof CudaNetwork c && c.captured();
            report(what + " captured", captured, g.describe());
            if (!captured) return;
            compare(what + " first run", ref, download(ops, first), tol);

            Map<String, Tensor> kept = g.run(in);
            ops.endStage();
            compare(what + " across endStage", ref, download(ops, kept), tol);

            // eager work that spills the shared arena (it grows at the next endStage, freeing its block), then large
            // convolutions (cuDNN's workspace may grow): the graph's memory is its own and stays
            long arenaBefore = ops.arena().capacity(), wsBefore = ops.cudnnWorkspace().bytes();
            ops.memory().allocate(arenaBefore + (64L << 20));   // more than the arena holds: a spill
            ops.endStage();                                      // frees it and grows the arena (a new block)
            Tensor x = ops.upload(noise(new SplittableRandom(5), 1, 128, 512, 512));
            Tensor w = ops.upload(noise(new SplittableRandom(6), 256, 128, 3, 3));
            ops.conv2d(ops.conv2d(x, w, null, 1, 1, 1), ops.upload(noise(new SplittableRandom(7), 128, 256, 5, 5)), null, 1, 2, 1);
            ops.synchronize();
            ops.endStage();
            Map<String, Tensor> after = g.run(in);
            compare(what + " after arena " + (arenaBefore >> 20) + "->" + (ops.arena().capacity() >> 20) + " MiB, cuDNN workspace "
                    + (wsBefore >> 20) + "->" + (ops.cudnnWorkspace().bytes() >> 20) + " MiB", ref, download(ops, after), tol);
            boolean refused;
            try {
                ops.download(kept.values().iterator().next());
                refused = false;
            } catch (IllegalStateException e) {
                refused = true;
            }
            report(what + " stale output refused", refused, "an output of run 2 read after run 3");

            double e = medianMs(ops, () -> eager.run(in)), gr = medianMs(ops, () -> g.run(in));
            System.out.printf(Locale.ROOT, "COMPILED %-28s TIME  eager %.3f ms, graph %.3f ms (%.2fx); %s%n", what, e, gr, e / gr, g.describe());
        } finally {
            ops.endStage();
        }
    }

    private static void againstCpu(AutoDIRModels models, CpuOps cpu, CudaOps ops, String name, int size) {
        Network net = Networks.forExport(name, models, size);
        Map<String, Tensor> cpuIn = inputs(models, cpu, net, 99), cudaIn = new LinkedHashMap<>();
        cpuIn.forEach((k, t) -> cudaIn.put(k, t instanceof IntTensor it ? ops.upload(it) : ops.uploadFloat32((FloatTensor) t)));
        Map<String, FloatTensor> ref = download(cpu, net.forward(cpu, cpuIn));
        try (CompiledNetwork g = ops.compile(net)) {
            compare(name + " FP32 vs cpu at " + size, ref, download(ops, g.run(cudaIn)), 1e-4);
        } finally {
            ops.endStage();
        }
    }

    private static void compare(String what, Map<String, FloatTensor> ref, Map<String, FloatTensor> out, double tol) {
        StringBuilder d = new StringBuilder();
        boolean ok = true;
        int identical = 0;
        for (String k : ref.keySet()) {
            FloatTensor a = out.get(k), b = ref.get(k);
            double rel = a.relL2(b);
            boolean same = Arrays.equals(a.data(), b.data());
            if (same) identical++;
            ok &= same || rel <= tol;   // NaN fails
            d.append(String.format(Locale.ROOT, "%s %.2e  ", k, rel));
        }
        report(what, ok, d + "(" + identical + "/" + ref.size() + " bit-identical, gate " + tol + ")");
    }

    private static Map<String, FloatTensor> download(Ops ops, Map<String, Tensor> out) {
        Map<String, FloatTensor> m = new LinkedHashMap<>();
        out.forEach((k, t) -> {
            if (t.dataType() == DataType.INT32) {
                int[] v = ops.downloadInts(t).data();
                float[] f = new float[v.length];
                for (int i = 0; i < v.length; i++) f[i] = v[i];
                m.put(k, new FloatTensor(f, t.shape()));
            } else {
                m.put(k, ops.download(t));
            }
        });
        return m;
    }

    private static double medianMs(CudaOps ops, Runnable run) {
        double[] ms = new double[10];
        for (int i = 0; i < ms.length; i++) {
            ops.synchronize();
            long t0 = System.nanoTime();
            run.run();
            ops.synchronize();
            ms[i] = (System.nanoTime() - t0) / 1e6;
            ops.endStage();
        }
        Arrays.sort(ms);
        return (ms[4] + ms[5]) / 2;
    }

    /** Inputs of the network's specs on {@code ops}, kept across stages: ids inside the vocabulary, masks with padding. */
    private static Map<String, Tensor> inputs(AutoDIRModels models, Ops ops, Network net, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int vocab = models.config().clipText().vocabSize();
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (TensorSpec s : net.inputs()) {
            int[] shape = s.shape();
            int n = (int) s.numel();
            Tensor t;
            switch (s.name()) {
                case "input_ids" -> {
                    int[] ids = new int[n];
                    for (int i = 0; i < n; i++) ids[i] = r.nextInt(vocab - 1);
                    for (int b = 0; b < shape[0]; b++) ids[b * shape[1] + 5 + b] = vocab - 1;   // the end-of-text id: the largest
                    t = ops.upload(new IntTensor(ids, shape));
                }
                case "attention_mask" -> {
                    int[] m = new int[n];
                    for (int b = 0; b < shape[0]; b++) for (int j = 0; j < shape[1]; j++) m[b * shape[1] + j] = j <= 5 + b ? 1 : 0;
                    t = ops.upload(new IntTensor(m, shape));
                }
                case "class_bias" -> {
                    float[] bias = new float[n];
                    bias[n - 1] = Float.NEGATIVE_INFINITY;   // a class already removed
                    t = ops.uploadFloat32(new FloatTensor(bias, shape));
                }
                case "timesteps" -> t = ops.uploadFloat32(new FloatTensor(new float[] {500.5f}, shape));
                case "scm_weight" -> t = ops.uploadFloat32(new FloatTensor(new float[] {1f}, shape));
                default -> t = ops.uploadFloat32(noise(r, shape));
            }
            in.put(s.name(), ops instanceof CpuOps ? t : ops.keep(t));
        }
        ops.endStage();
        return in;
    }

    private static FloatTensor noise(SplittableRandom r, int... shape) {
        FloatTensor t = FloatTensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) (r.nextGaussian() * 0.5);
        return t;
    }
}
