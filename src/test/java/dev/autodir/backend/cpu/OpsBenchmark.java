package dev.autodir.backend.cpu;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.OpsConformanceTest;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Times the cpu backend's hot operations at the sizes of the full networks (not a unit test; speed is
 * never asserted). The same cases, in the same order, are in {@code benchmarks/torch/ops_torch.py}.
 *
 * <pre>
 * mvn -q -o test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 * java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes:$(cat target/cp.txt) \
 *     dev.autodir.backend.cpu.OpsBenchmark [filter]
 * </pre>
 * A filter selects the cases whose name contains it, or with a leading {@code ^}, starts with it.
 * Prints one line per case: the median and minimum of the timed runs in milliseconds.
 */
public final class OpsBenchmark {
    private record Case(String name, int runs, Supplier<Runnable> setup) { }

    private static FloatTensor random(long seed, double scale, int... shape) {
        Random r = new Random(seed);
        FloatTensor t = FloatTensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) (r.nextGaussian() * scale);
        return t;
    }

    public static void main(String[] args) {
        String filter = args.length > 0 ? args[0] : "";
        CpuOps ops = new CpuOps();
        OpsConformanceTest.MemoryStore store = new OpsConformanceTest.MemoryStore();
        // weights come from a store, as in the networks, so the native weight cache is in play
        java.util.function.BiFunction<String, int[], Tensor> weight = (key, shape) -> {
            store.put(key, random(key.hashCode(), 0.05, shape));
            return ops.weight(store, key);
        };
        List<Case> cases = new ArrayList<>();
        cases.add(new Case("conv3x3 320->320 64x64", 10, () -> {
            FloatTensor x = random(1, 1, 1, 320, 64, 64);
            Tensor w = weight.apply("c33", new int[] {320, 320, 3, 3}), b = weight.apply("c33b", new int[] {320});
            return () -> ops.conv2d(x, w, b, 1, 1, 1);
        }));
        cases.add(new Case("conv1x1 320->320 64x64", 20, () -> {
            FloatTensor x = random(2, 1, 1, 320, 64, 64);
            Tensor w = weight.apply("c11", new int[] {320, 320, 1, 1}), b = weight.apply("c11b", new int[] {320});
            return () -> ops.conv2d(x, w, b, 1, 0, 1);
        }));
        cases.add(new Case("conv3x3 1280->1280 8x8", 20, () -> {
            FloatTensor x = random(3, 1, 1, 1280, 8, 8);
            Tensor w = weight.apply("c33s", new int[] {1280, 1280, 3, 3}), b = weight.apply("c33sb", new int[] {1280});
            return () -> ops.conv2d(x, w, b, 1, 1, 1);
        }));
        cases.add(new Case("conv3x3 128->128 512x512", 5, () -> {
            FloatTensor x = random(4, 1, 1, 128, 512, 512);
            Tensor w = weight.apply("vae", new int[] {128, 128, 3, 3}), b = weight.apply("vaeb", new int[] {128});
            return () -> ops.conv2d(x, w, b, 1, 1, 1);
        }));
        cases.add(new Case("conv3x3 128->3 512x512", 10, () -> {
            FloatTensor x = random(25, 1, 1, 128, 512, 512);
            Tensor w = weight.apply("vaeout", new int[] {3, 128, 3, 3}), b = weight.apply("vaeoutb", new int[] {3});
            return () -> ops.conv2d(x, w, b, 1, 1, 1);
        }));
        cases.add(new Case("conv3x3 8->320 64x64", 20, () -> {
            FloatTensor x = random(26, 1, 1, 8, 64, 64);
            Tensor w = weight.apply("convin", new int[] {320, 8, 3, 3}), b = weight.apply("convinb", new int[] {320});
            return () -> ops.conv2d(x, w, b, 1, 1, 1);
        }));
        cases.add(new Case("conv3x3 s2 320->320 64x64", 20, () -> {
            FloatTensor x = random(27, 1, 1, 320, 64, 64);
            Tensor w = weight.apply("down", new int[] {320, 320, 3, 3}), b = weight.apply("downb", new int[] {320});
            return () -> ops.conv2d(x, w, b, 2, 1, 1);
        }));
        cases.add(new Case("conv3x3 6->64 512x512", 10, () -> {
            FloatTensor x = random(28, 1, 1, 6, 512, 512);
            Tensor w = weight.apply("intro", new int[] {64, 6, 3, 3}), b = weight.apply("introb", new int[] {64});
            return () -> ops.conv2d(x, w, b, 1, 1, 1);
        }));
        cases.add(new Case("conv1x1 64->128 512x512", 10, () -> {
            FloatTensor x = random(29, 1, 1, 64, 512, 512);
            Tensor w = weight.apply("naf1", new int[] {128, 64, 1, 1}), b = weight.apply("naf1b", new int[] {128});
            return () -> ops.conv2d(x, w, b, 1, 0, 1);
        }));
        cases.add(new Case("dwconv3x3 128 512x512", 10, () -> {
            FloatTensor x = random(5, 1, 1, 128, 512, 512);
            Tensor w = weight.apply("dw", new int[] {128, 1, 3, 3}), b = weight.apply("dwb", new int[] {128});
            return () -> ops.conv2d(x, w, b, 1, 1, 128);
        }));
        cases.add(new Case("linear 4096x320->1280", 20, () -> {
            FloatTensor x = random(6, 1, 1, 4096, 320);
            Tensor w = weight.apply("lin", new int[] {1280, 320}), b = weight.apply("linb", new int[] {1280});
            return () -> ops.linear(x, w, b);
        }));
        cases.add(new Case("linear 77x768->3072", 50, () -> {
            FloatTensor x = random(7, 1, 1, 77, 768);
            Tensor w = weight.apply("clip", new int[] {3072, 768}), b = weight.apply("clipb", new int[] {3072});
            return () -> ops.linear(x, w, b);
        }));
        cases.add(new Case("attention 4096 tok 8x40", 5, () -> {
            FloatTensor q = random(8, 1, 1, 4096, 320), k = random(9, 1, 1, 4096, 320), v = random(10, 1, 1, 4096, 320);
            return () -> ops.attention(q, k, v, 8, (float) (1 / Math.sqrt(40)), AttentionMask.NONE);
        }));
        cases.add(new Case("attention 4096 tok 1x512", 5, () -> {
            FloatTensor q = random(30, 1, 1, 4096, 512), k = random(31, 1, 1, 4096, 512), v = random(32, 1, 1, 4096, 512);
            return () -> ops.attention(q, k, v, 1, (float) (1 / Math.sqrt(512)), AttentionMask.NONE);
        }));
        cases.add(new Case("cross-attention 4096x77 8x40", 20, () -> {
            FloatTensor q = random(11, 1, 1, 4096, 320), k = random(12, 1, 1, 77, 320), v = random(13, 1, 1, 77, 320);
            return () -> ops.attention(q, k, v, 8, (float) (1 / Math.sqrt(40)), AttentionMask.NONE);
        }));
        cases.add(new Case("groupNorm+silu 320x64x64 G32", 50, () -> {
            FloatTensor x = random(14, 1, 1, 320, 64, 64), g = random(15, 1, 320), b = random(16, 1, 320);
            return () -> ops.groupNorm(x, 32, g, b, 1e-5f, true);
        }));
        cases.add(new Case("layerNorm 4096x320", 50, () -> {
            FloatTensor x = random(17, 1, 1, 4096, 320), g = random(18, 1, 320), b = random(19, 1, 320);
            return () -> ops.layerNorm(x, g, b, 1e-5f);
        }));
        cases.add(new Case("layerNormChannels 64x512x512", 10, () -> {
            FloatTensor x = random(20, 1, 1, 64, 512, 512), g = random(21, 1, 64), b = random(22, 1, 64);
            return () -> ops.layerNormChannels(x, g, b, 1e-6f);
        }));
        cases.add(new Case("geglu 4096x2560", 20, () -> {
            FloatTensor x = random(23, 1, 1, 4096, 2560);
            return () -> ops.geglu(x);
        }));
        cases.add(new Case("silu 320x64x64", 50, () -> {
            FloatTensor x = random(24, 1, 1, 320, 64, 64);
            return () -> ops.silu(x);
        }));
        cases.add(new Case("upsample2x 256x256x256", 10, () -> {
            FloatTensor x = random(44, 1, 1, 256, 256, 256);
            return () -> ops.upsampleNearest2x(x);
        }));
        cases.add(new Case("nchwToTokens 320x64x64", 50, () -> {
            FloatTensor x = random(45, 1, 1, 320, 64, 64);
            return () -> ops.nchwToTokens(x);
        }));
        cases.add(new Case("concat 640+320 32x32", 50, () -> {
            FloatTensor a = random(46, 1, 1, 640, 32, 32), b = random(47, 1, 1, 320, 32, 32);
            return () -> ops.concat(List.of(a, b), 1);
        }));
        // composite blocks as the UNet runs them at 64x64 latent (shapes of SD-1.5's first level)
        cases.add(new Case("unet resblock 320 64x64", 10, () -> {
            FloatTensor x = random(40, 1, 1, 320, 64, 64), emb = random(41, 1, 1, 1280);
            Tensor g1 = weight.apply("rb.g1", new int[] {320}), b1 = weight.apply("rb.b1", new int[] {320});
            Tensor c1 = weight.apply("rb.c1", new int[] {320, 320, 3, 3}), c1b = weight.apply("rb.c1b", new int[] {320});
            Tensor e = weight.apply("rb.e", new int[] {320, 1280}), eb = weight.apply("rb.eb", new int[] {320});
            Tensor g2 = weight.apply("rb.g2", new int[] {320}), b2 = weight.apply("rb.b2", new int[] {320});
            Tensor c2 = weight.apply("rb.c2", new int[] {320, 320, 3, 3}), c2b = weight.apply("rb.c2b", new int[] {320});
            return () -> {
                Tensor h = ops.conv2d(ops.groupNorm(x, 32, g1, b1, 1e-5f, true), c1, c1b, 1, 1, 1);
                h = ops.addPerChannel(h, ops.linear(ops.silu(emb), e, eb));
                h = ops.conv2d(ops.groupNorm(h, 32, g2, b2, 1e-5f, true), c2, c2b, 1, 1, 1);
                ops.add(x, h);
            };
        }));
        cases.add(new Case("unet transformer 320 64x64", 5, () -> {
            FloatTensor x = random(42, 1, 1, 320, 64, 64), ctx = random(43, 1, 1, 77, 768);
            float scale = (float) (1 / Math.sqrt(40));
            Tensor gn = weight.apply("st.gn", new int[] {320}), gnb = weight.apply("st.gnb", new int[] {320});
            Tensor pin = weight.apply("st.pin", new int[] {320, 320, 1, 1}), pinb = weight.apply("st.pinb", new int[] {320});
            Tensor[] ln = new Tensor[6];
            for (int i = 0; i < 6; i++) ln[i] = weight.apply("st.ln" + i, new int[] {320});
            Tensor q1 = weight.apply("st.q1", new int[] {320, 320}), k1 = weight.apply("st.k1", new int[] {320, 320});
            Tensor v1 = weight.apply("st.v1", new int[] {320, 320}), o1 = weight.apply("st.o1", new int[] {320, 320});
            Tensor o1b = weight.apply("st.o1b", new int[] {320});
            Tensor q2 = weight.apply("st.q2", new int[] {320, 320}), k2 = weight.apply("st.k2", new int[] {320, 768});
            Tensor v2 = weight.apply("st.v2", new int[] {320, 768}), o2 = weight.apply("st.o2", new int[] {320, 320});
            Tensor o2b = weight.apply("st.o2b", new int[] {320});
            Tensor f1 = weight.apply("st.f1", new int[] {2560, 320}), f1b = weight.apply("st.f1b", new int[] {2560});
            Tensor f2 = weight.apply("st.f2", new int[] {320, 1280}), f2b = weight.apply("st.f2b", new int[] {320});
            Tensor pout = weight.apply("st.pout", new int[] {320, 320, 1, 1}), poutb = weight.apply("st.poutb", new int[] {320});
            return () -> {
                Tensor h = ops.conv2d(ops.groupNorm(x, 32, gn, gnb, 1e-6f, false), pin, pinb, 1, 0, 1);
                Tensor t = ops.nchwToTokens(h);                                            // [1, 4096, 320]
                Tensor n = ops.layerNorm(t, ln[0], ln[1], 1e-5f);
                t = ops.add(t, ops.linear(ops.attention(ops.linear(n, q1, null), ops.linear(n, k1, null),
                        ops.linear(n, v1, null), 8, scale, AttentionMask.NONE), o1, o1b));
                n = ops.layerNorm(t, ln[2], ln[3], 1e-5f);
                t = ops.add(t, ops.linear(ops.attention(ops.linear(n, q2, null), ops.linear(ctx, k2, null),
                        ops.linear(ctx, v2, null), 8, scale, AttentionMask.NONE), o2, o2b));
                n = ops.layerNorm(t, ln[4], ln[5], 1e-5f);
                t = ops.add(t, ops.linear(ops.geglu(ops.linear(n, f1, f1b)), f2, f2b));
                ops.add(x, ops.conv2d(ops.tokensToNchw(t, 64, 64), pout, poutb, 1, 0, 1));
            };
        }));
        if (filter.equals("--list")) {                                     // names only, one a line
            for (Case c : cases) System.out.println(c.name);
            ops.close();
            return;
        }
        System.out.printf(Locale.ROOT, "cpu backend, %d Java threads, OpenBLAS threads %d, lanes %d%n",
                Runtime.getRuntime().availableProcessors(), Blas.threads(), VectorMath.LANES);
        for (Case c : cases) {
            boolean match = filter.startsWith("^") ? c.name.startsWith(filter.substring(1)) : c.name.contains(filter);
            if (!match) continue;
            Runnable run = c.setup.get();
            for (int i = 0; i < 3; i++) run.run();                           // warm-up (JIT, caches, buffers)
            double[] ms = new double[c.runs];
            for (int i = 0; i < c.runs; i++) {
                long t0 = System.nanoTime();
                run.run();
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            System.out.printf(Locale.ROOT, "%-32s median %9.2f ms   min %9.2f ms   (%d runs)%n", c.name, ms[ms.length / 2], ms[0], c.runs);
        }
        ops.close();
    }
}
