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
        System.out.printf(Locale.ROOT, "cpu backend, %d Java threads, OpenBLAS threads %d, lanes %d%n",
                Runtime.getRuntime().availableProcessors(), Blas.threads(), VectorMath.LANES);
        for (Case c : cases) {
            if (!c.name.contains(filter)) continue;
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
