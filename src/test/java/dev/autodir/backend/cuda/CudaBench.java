package dev.autodir.backend.cuda;

import dev.autodir.backend.OpsConformanceTest;

import dev.autodir.backend.Precision;
import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Device micro-benchmarks of the cuda backend at the shapes the networks use (not a test: a main run by
 * benchmarks/gpu-check.sh). Times with CUDA events (median of N after warm-up), prints one line per case with
 * milliseconds and the achieved TFLOP/s or GB/s, and a last block comparing the convolution implementations
 * (cuDNN vs the implicit-GEMM kernel), which decides the default. benchmarks/gpu/torch_bench.py times the
 * same shapes in PyTorch.
 *
 * <p>Usage: {@code java ... dev.autodir.backend.cuda.CudaBench [quick]}
 */
public final class CudaBench {
    private record Row(String name, String impl, String shape, double ms, double work, String unit) { }

    private static final List<Row> ROWS = new ArrayList<>();

    public static void main(String[] args) {
        String reason = CudaAvailability.unavailableReason();
        if (reason != null) {
            System.out.println("CudaBench SKIPPED: " + reason);
            return;
        }
        boolean quick = args.length > 0 && args[0].equals("quick");
        int iters = quick ? 5 : 20;
        try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(Precision.FP16))) {
            System.out.println(ops.describe());
            convolutions(iters);
            attention(ops, iters);
            dense(ops, iters);
            graphReplay(ops, iters);
            System.out.println(ops.describe());
        }
        try (CudaOps ops32 = new CudaOps(CudaOps.Options.defaults(Precision.FP32))) {
            Tensor q = ops32.upload(CudaTestSupport.random(1, 2, 4096, 320));
            time(ops32, "attention", "fp32 generic", "B2 N4096 C320 h8 (d40)", iters, 4.0 * 2 * 8 * 4096 * 4096 * 40, "TFLOP/s",
                    () -> ops32.attention(q, q, q, 8, 0.158f, AttentionMask.NONE));
            Tensor x = ops32.upload(CudaTestSupport.random(2, 1, 320, 64, 64));
            Tensor w = ops32.upload(CudaTestSupport.randomScaled(3, 0.05, 0, 320, 320, 3, 3));
            time(ops32, "conv3x3", "fp32 " + ops32.convAlgorithm(), "1x320x64x64 -> 320", iters, 2.0 * 320 * 320 * 9 * 4096, "TFLOP/s",
                    () -> ops32.conv2d(x, w, null, 1, 1, 1));
        }
        System.out.println();
        System.out.println(String.format(Locale.ROOT, "%-12s %-22s %-34s %10s %10s", "op", "impl", "shape", "median ms", "rate"));
        for (Row r : ROWS) {
            double rate = r.work() / (r.ms() * 1e-3) / (r.unit().equals("TFLOP/s") ? 1e12 : 1e9);
            System.out.println(String.format(Locale.ROOT, "%-12s %-22s %-34s %10.3f %7.1f %s", r.name(), r.impl(), r.shape(),
                    r.ms(), r.work() == 0 ? 0 : rate, r.work() == 0 ? "" : r.unit()));
        }
    }

    private static void convolutions(int iters) {
        int[][] shapes = {   // B, Cin, H, W, Cout, groups
                {1, 320, 64, 64, 320, 1}, {1, 640, 32, 32, 640, 1}, {1, 1280, 16, 16, 1280, 1}, {2, 320, 96, 96, 320, 1},
                {1, 128, 512, 512, 128, 1}, {1, 256, 256, 256, 256, 1}, {1, 512, 128, 128, 512, 1}, {1, 128, 512, 512, 128, 128},
        };
        List<String> verdicts = new ArrayList<>();
        for (int[] s : shapes) {
            String shape = s[0] + "x" + s[1] + "x" + s[2] + "x" + s[3] + " -> " + s[4] + (s[5] > 1 ? " g" + s[5] : "");
            double flops = 2.0 * s[0] * s[4] * (s[1] / s[5]) * 9 * (double) s[2] * s[3];
            double best = Double.MAX_VALUE;
            String bestImpl = "";
            FloatTensor hx = CudaTestSupport.random(s[1], s[0], s[1], s[2], s[3]);
            FloatTensor hw = CudaTestSupport.randomScaled(s[4], 0.05, 0, s[4], s[1] / s[5], 3, 3);
            FloatTensor hb = CudaTestSupport.random(7, s[4]);
            for (CudaOps.ConvAlgorithm algo : List.of(CudaOps.ConvAlgorithm.CUDNN, CudaOps.ConvAlgorithm.IGEMM, CudaOps.ConvAlgorithm.DIRECT)) {
                if (algo == CudaOps.ConvAlgorithm.DIRECT && s[5] == 1 && flops > 3e10) continue;   // minutes for nothing
                try (CudaOps o = new CudaOps(CudaOps.Options.defaults(Precision.FP16).withConv(algo))) {
                    Tensor x = o.upload(hx);
                    Tensor w = o.upload(hw);
                    Tensor b = o.upload(hb);
                    double ms = time(o, s[5] > 1 ? "dwconv3x3" : "conv3x3", "fp16 " + algo, shape, iters, flops, "TFLOP/s",
                            () -> o.conv2d(x, w, b, 1, 1, s[5]));
                    if (ms < best) {
                        best = ms;
                        bestImpl = algo.name();
                    }
                } catch (RuntimeException e) {
                    System.out.println("conv " + shape + " " + algo + " FAILED: " + e);
                }
            }
            CudaOps.Options im2colOptions = CudaOps.Options.defaults(Precision.FP16).withConv(CudaOps.ConvAlgorithm.CUDNN);
            if (s[5] == 1 && im2colOptions.features().convIm2col()) {
                // the unverified im2col + cuBLASLt path forced, and then the per-shape timed choice between it and cuDNN
                try (CudaOps o = new CudaOps(im2colOptions)) {
                    Tensor x = o.upload(hx);
                    Tensor w = o.upload(hw);
                    Tensor b = o.upload(hb);
                    o.forceConvChoice(ConvAutotune.Choice.IM2COL);
                    double ms = time(o, "conv3x3", "fp16 im2col (forced)", shape, iters, flops, "TFLOP/s", () -> o.conv2d(x, w, b, 1, 1, 1));
                    if (ms < best) {
                        best = ms;
                        bestImpl = "IM2COL";
                    }
                    o.forceConvChoice(null);
                    time(o, "conv3x3", "fp16 autotuned", shape, iters, flops, "TFLOP/s", () -> o.conv2d(x, w, b, 1, 1, 1));
                    System.out.print("  " + o.convChoices());
                } catch (RuntimeException e) {
                    System.out.println("conv " + shape + " im2col FAILED: " + e);
                }
            }
            if (CudaOps.Options.defaults(Precision.FP16).features().convGraph()) {
                // the unverified cuDNN graph-API path forced, alone (fastKernels off, so the grouped shape reaches cuDNN
                // too); the timed three-way choice is printed by the im2col block
                CudaOps.Options graphOptions = CudaOps.Options.defaults(Precision.FP16).withConv(CudaOps.ConvAlgorithm.CUDNN)
                        .withFeatures(new Features(false, false, false, true));
                try (CudaOps o = new CudaOps(graphOptions)) {
                    Tensor x = o.upload(hx);
                    Tensor w = o.upload(hw);
                    Tensor b = o.upload(hb);
                    o.forceConvChoice(ConvAutotune.Choice.GRAPH);
                    double ms = time(o, s[5] > 1 ? "dwconv3x3" : "conv3x3", "fp16 cuDNN-graph (forced)", shape, iters, flops, "TFLOP/s",
                            () -> o.conv2d(x, w, b, 1, 1, s[5]));
                    if (ms < best) {
                        best = ms;
                        bestImpl = "GRAPH";
                    }
                } catch (RuntimeException e) {
                    System.out.println("conv " + shape + " cuDNN-graph FAILED: " + e);
                }
            }
            verdicts.add(String.format(Locale.ROOT, "conv %-28s fastest %s (%.3f ms)", shape, bestImpl, best));
        }
        System.out.println("--- convolution verdicts (the default is AUTO = cuDNN when it loads) ---");
        verdicts.forEach(System.out::println);
    }

    private static void attention(CudaOps ops, int iters) {
        int[][] cases = {   // B, Nq, Nk, C, heads
                {2, 4096, 4096, 320, 8}, {2, 9216, 9216, 320, 8}, {2, 4096, 77, 320, 8}, {2, 1024, 1024, 640, 8},
                {2, 256, 256, 1280, 8}, {8, 77, 77, 768, 12}, {1, 257, 257, 1024, 16},
        };
        for (int[] c : cases) {
            Tensor q = ops.upload(CudaTestSupport.random(1, c[0], c[1], c[3]));
            Tensor k = ops.upload(CudaTestSupport.random(2, c[0], c[2], c[3]));
            int d = c[3] / c[4];
            time(ops, "attention", "fp16 flash", "B" + c[0] + " Nq" + c[1] + " Nk" + c[2] + " d" + d + " h" + c[4], iters,
                    4.0 * c[0] * c[4] * (double) c[1] * c[2] * d, "TFLOP/s",
                    () -> ops.attention(q, k, k, c[4], (float) (1 / Math.sqrt(d)), AttentionMask.NONE));
            ops.endStage();
        }
    }

    private static void dense(CudaOps ops, int iters) {
        int[][] lin = {{8192, 320, 2560}, {8192, 1280, 320}, {2048, 640, 5120}, {77 * 8, 768, 3072}};
        for (int[] l : lin) {
            Tensor x = ops.upload(CudaTestSupport.random(1, l[0], l[1]));
            Tensor w = ops.upload(CudaTestSupport.randomScaled(2, 0.05, 0, l[2], l[1]));
            Tensor b = ops.upload(CudaTestSupport.random(3, l[2]));
            time(ops, "linear", "fp16 cuBLASLt", l[0] + "x" + l[1] + " -> " + l[2], iters, 2.0 * l[0] * l[1] * l[2], "TFLOP/s",
                    () -> ops.linear(x, w, b));
            ops.endStage();
        }
        Tensor g = ops.upload(CudaTestSupport.random(4, 2, 320, 64, 64));
        Tensor gamma = ops.upload(CudaTestSupport.random(5, 320)), beta = ops.upload(CudaTestSupport.random(6, 320));
        time(ops, "groupNorm", "fp16 silu", "2x320x64x64 G32", iters, 2.0 * 2 * 2 * 320 * 4096, "GB/s",
                () -> ops.groupNorm(g, 32, gamma, beta, 1e-5f, true));
        Tensor v = ops.upload(CudaTestSupport.random(7, 1, 128, 512, 512));
        Tensor g128 = ops.upload(CudaTestSupport.random(8, 128));
        time(ops, "groupNorm", "fp16 silu", "1x128x512x512 G32", iters, 2.0 * 2 * 128 * 262144, "GB/s",
                () -> ops.groupNorm(v, 32, g128, g128, 1e-6f, true));
        Tensor a = ops.upload(CudaTestSupport.random(9, 2, 320, 96, 96));
        time(ops, "add", "fp16", "2x320x96x96", iters, 3.0 * 2 * 2 * 320 * 9216, "GB/s", () -> ops.add(a, a));
        Tensor gg = ops.upload(CudaTestSupport.random(10, 2, 4096, 2560));
        time(ops, "geglu", "fp16", "2x4096x2560", iters, 2.0 * (2 * 4096 * 2560 + 2 * 4096 * 1280), "GB/s", () -> ops.geglu(gg));
        ops.endStage();
    }

    /** 60 small dependent operations, eagerly and as one graph replay: the launch overhead a graph removes. */
    private static void graphReplay(CudaOps ops, int iters) {
        ops.endStage();
        CudaTensor x = ops.persistent(Precision.FP16, 1, 320, 16, 16);
        ops.uploadInto(x, CudaTestSupport.random(11, 1, 320, 16, 16));
        Tensor gamma = ops.weight(new OpsConformanceTest.MemoryStore().put("g", CudaTestSupport.random(12, 320)), "g");
        Supplier<Tensor> body = () -> {
            Tensor h = x;
            for (int i = 0; i < 20; i++) h = ops.add(ops.silu(ops.groupNorm(h, 32, gamma, gamma, 1e-5f, false)), x);
            return h;
        };
        time(ops, "block60", "fp16 eager", "60 launches 1x320x16x16", iters, 0, "GB/s", body);
        ops.endStage();
        try (CudaGraph g = ops.capture(body)) {
            time(ops, "block60", "fp16 graph replay", "60 launches 1x320x16x16", iters, 0, "GB/s", () -> {
                g.replay();
                return g.output();
            });
        }
        ops.endStage();
    }

    /** Median milliseconds of {@code body} over {@code iters} timed runs after 3 warm-ups (CUDA events). */
    private static double time(CudaOps ops, String name, String impl, String shape, int iters, double work, String unit,
                               Supplier<? extends Tensor> body) {
        try (StageTimer timer = ops.timer()) {
            for (int i = 0; i < 3; i++) body.get().close();
            for (int i = 0; i < iters; i++) {
                try (var s = timer.stage(name)) {
                    body.get().close();
                }
            }
            double ms = timer.collect().get(name).median();
            ROWS.add(new Row(name, impl, shape, ms, work, unit));
            double rate = work == 0 ? 0 : work / (ms * 1e-3) / (unit.equals("TFLOP/s") ? 1e12 : 1e9);
            System.out.println(String.format(Locale.ROOT, "%-12s %-22s %-34s %10.3f ms %8.1f %s", name, impl, shape, ms, rate, unit));
            return ms;
        }
    }
}
