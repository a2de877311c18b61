package dev.autodir.backend.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * A small fork-join pool owned by {@link CpuOps}: all of the backend's parallelism, the Java loops
 * and the matrix products alike (OpenBLAS runs single-threaded, one call per worker, so no OpenBLAS
 * thread spins on a core while Java works). The calling thread runs one share itself, so a pool of
 * {@code threads - 1} workers keeps {@code threads} cores busy.
 */
final class Parallel implements AutoCloseable {
    /** A body over the half-open index range [from, to). */
    @FunctionalInterface interface Range { void run(int from, int to); }

    /** A body over [from, to) that also learns which share it runs (0 ≤ worker &lt; threads). */
    @FunctionalInterface interface WorkerRange { void run(int worker, int from, int to); }

    /** Below this much work (items × cost per item) a loop runs on the calling thread alone. */
    static final long DEFAULT_MIN_WORK = 32_768;

    private final int threads;
    private final long minWork;
    private final ForkJoinPool pool;

    Parallel(int threads, long minWork) {
        if (threads < 1) throw new IllegalArgumentException("thread count must be positive, got " + threads);
        this.threads = threads;
        this.minWork = minWork;
        this.pool = threads > 1 ? new ForkJoinPool(threads - 1) : null;
    }

    int threads() { return threads; }

    /**
     * Runs {@code body} over [0, n) split into at most {@code threads} contiguous ranges; when
     * {@code n · costPerItem} is small the whole range runs on the calling thread.
     */
    void forRange(int n, long costPerItem, Range body) {
        forWorkers(n, costPerItem, (worker, from, to) -> body.run(from, to));
    }

    /** As {@link #forRange}, telling each share its worker index (for per-worker scratch memory). */
    void forWorkers(int n, long costPerItem, WorkerRange body) {
        if (n <= 0) return;
        int parts = (int) Math.min(threads, n);
        if (pool == null || parts == 1 || (long) n * costPerItem < minWork) {
            body.run(0, 0, n);
            return;
        }
        List<ForkJoinTask<?>> tasks = new ArrayList<>(parts - 1);
        for (int p = 1; p < parts; p++) {
            int from = (int) ((long) n * p / parts), to = (int) ((long) n * (p + 1) / parts), worker = p;
            tasks.add(pool.submit(() -> body.run(worker, from, to)));
        }
        Throwable failure = null;
        try {
            body.run(0, 0, (int) ((long) n / parts));
        } catch (Throwable e) {
            failure = e;
        }
        for (ForkJoinTask<?> t : tasks) {
            try {
                t.join();
            } catch (Throwable e) {
                if (failure == null) failure = e;
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error err) throw err;
        if (failure != null) throw new IllegalStateException(failure);
    }

    @Override public void close() {
        if (pool != null) pool.shutdownNow();
    }
}
