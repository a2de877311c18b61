package dev.autodir.benchmarks;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The cpu guard's calibration workload, none of it the engine's code: on each core, 48 OpenBLAS sgemm of 512³ (the
 * kind of work that dominates the networks; OpenBLAS runs single-threaded once the cpu backend has started, so the
 * cores are used the way the backend uses them) and 8 streaming passes a = a/2 + b·c over 4 Mi floats (memory-bound,
 * like the norms and elementwise steps). About 0.35 s on the 2-core build machine.
 */
final class CpuCalibration implements LatencyGuard.Calibration {
    private static final int N = 512, GEMMS = 48, STREAM = 4 << 20, PASSES = 8;
    private final ExecutorService pool;
    private final List<FloatPointer[]> matrices = new ArrayList<>();
    private final List<float[][]> streams = new ArrayList<>();
    private final int threads;

    CpuCalibration() {
        threads = Runtime.getRuntime().availableProcessors();
        pool = Executors.newFixedThreadPool(threads);
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        for (int t = 0; t < threads; t++) {
            FloatPointer[] m = new FloatPointer[3];
            for (int i = 0; i < 3; i++) {
                m[i] = new FloatPointer((long) N * N);
                for (long j = 0; j < (long) N * N; j++) m[i].put(j, (float) r.nextDouble(-1, 1));
            }
            matrices.add(m);
            float[][] s = new float[3][STREAM];
            for (float[] a : s) for (int j = 0; j < STREAM; j++) a[j] = (float) r.nextDouble(-1, 1);
            streams.add(s);
        }
    }

    @Override public double runMs() {
        long t0 = System.nanoTime();
        List<Future<?>> jobs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            FloatPointer[] m = matrices.get(t);
            float[][] s = streams.get(t);
            jobs.add(pool.submit(() -> {
                for (int g = 0; g < GEMMS; g++) {
                    openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans,
                            openblas_nolapack.CblasNoTrans, N, N, N, 1f, m[0], N, m[1], N, 0f, m[2], N);
                }
                float[] a = s[0], b = s[1], c = s[2];
                for (int p = 0; p < PASSES; p++) {
                    for (int j = 0; j < STREAM; j++) a[j] = a[j] * 0.5f + b[j] * c[j];
                }
            }));
        }
        try {
            for (Future<?> f : jobs) f.get();
        } catch (Exception e) {
            throw new IllegalStateException("calibration failed: " + e, e);
        }
        return (System.nanoTime() - t0) / 1e6;
    }

    @Override public void close() {
        pool.shutdownNow();
        for (FloatPointer[] m : matrices) for (FloatPointer p : m) p.close();
    }
}
