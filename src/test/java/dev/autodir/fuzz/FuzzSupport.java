package dev.autodir.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What every fuzz target shares: a scratch file per target (on /dev/shm when there is one: the readers map
 * files), the check that an input cost bounded memory and time, and counters printed at exit
 * (executions, slowest input, worst allocation per input byte) for the figures in README.
 *
 * <p>Bounds a target asserts once warmed up ({@link #WARM_EXECUTIONS} executions: the first run of each code
 * path initialises classes and the JIT compiles, so only fuzzing reaches them), on executions that loaded no
 * class (Jazzer instruments each class as it loads, on the loading thread: hundreds of MiB once): allocated heap ≤
 * {@code perByte} × input length + {@link #SLACK_BYTES}, and at most {@link #MAX_NANOS} per input while fuzzing
 * (an input over it is timed again, and fails only if it is slow twice: the fuzzing JVM's multi-GB heap has
 * collection pauses that stall whichever input runs).
 * The default test run executes only the seeds, checking that they fail (or load) with the expected exception.
 */
public final class FuzzSupport {
    private FuzzSupport() { }

    public static final long SLACK_BYTES = 8L << 20;
    static final long MAX_NANOS = 1_000_000_000L;
    static final long WARM_EXECUTIONS = 2_000;
    private static final boolean FUZZING = System.getenv("JAZZER_FUZZ") != null && !System.getenv("JAZZER_FUZZ").isEmpty();

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static final java.lang.management.ClassLoadingMXBean CLASSES = ManagementFactory.getClassLoadingMXBean();
    private static final ConcurrentHashMap<String, Stats> STATS = new ConcurrentHashMap<>();

    /** Where the counters go (one file per target, rewritten every 10,000 executions and at exit). */
    static final Path STATS_DIR = Path.of("target", "fuzz-stats");

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> STATS.forEach((name, s) -> {
            System.err.println(s.line(name));
            save(name, s);
        })));
    }

    private static void save(String name, Stats s) {
        try {
            Files.createDirectories(STATS_DIR);
            Files.writeString(STATS_DIR.resolve(name + ".txt"), s.line(name) + "\n");
        } catch (IOException e) {
            // counters are a report, not a result
        }
    }

    /** Counters of one target. */
    static final class Stats {
        long executions;
        long classLoading;
        long pauses;
        long slowestNanos;
        int slowestLength;
        double worstBytesPerInputByte;
        long worstAllocated;
        int worstLength;

        synchronized void add(long nanos, long allocated, int length) {
            executions++;
            if (executions > WARM_EXECUTIONS && nanos > slowestNanos && nanos <= MAX_NANOS) {
                slowestNanos = nanos;
                slowestLength = length;
            }
            if (executions <= WARM_EXECUTIONS) return;
            double perByte = (double) Math.max(0, allocated - SLACK_BYTES) / Math.max(length, 1);
            if (allocated > worstAllocated) {
                worstAllocated = allocated;
                worstLength = length;
            }
            worstBytesPerInputByte = Math.max(worstBytesPerInputByte, perByte);
        }

        synchronized String line(String name) {
            return String.format(Locale.ROOT, "fuzz %s: %d executions; after warm-up: slowest input %.1f ms (%d bytes),"
                            + " most allocated %.1f MiB (input %d bytes), worst (allocated - %d MiB) / input bytes = %.1f;"
                            + " %d executions that loaded classes not measured; %d over 1 s timed again, all under",
                    name, executions, slowestNanos / 1e6, slowestLength, worstAllocated / 1048576.0, worstLength,
                    SLACK_BYTES >> 20, worstBytesPerInputByte, classLoading, pauses);
        }
    }

    /** A scratch path for {@code target}'s inputs, reused across executions. */
    public static Path scratch(String target, String suffix) {
        Path dir = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : Path.of(System.getProperty("java.io.tmpdir"));
        return dir.resolve("autodir-fuzz-" + target + "-" + ProcessHandle.current().pid() + suffix);
    }

    public static Path write(Path file, byte[] data) {
        try {
            return Files.write(file, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A body that may throw only what the target expects. */
    @FunctionalInterface public interface Body { void run() throws Exception; }

    /**
     * Runs {@code body} on an input of {@code length} bytes and checks its cost: allocation within
     * {@code perByte} × length + {@link #SLACK_BYTES}, and time within {@link #MAX_NANOS} while fuzzing.
     */
    public static void measure(String target, int length, long perByte, Body body) throws Exception {
        measure(target, length, perByte, SLACK_BYTES, body);
    }

    /** As {@link #measure(String, int, long, Body)} with a target's own constant cost {@code slack} (its lookups, say). */
    public static void measure(String target, int length, long perByte, long slack, Body body) throws Exception {
        Stats s = STATS.computeIfAbsent(target, k -> new Stats());
        long loaded = CLASSES.getTotalLoadedClassCount();
        long a0 = THREADS.getCurrentThreadAllocatedBytes();
        long t0 = System.nanoTime();
        body.run();
        long nanos = System.nanoTime() - t0;
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - a0;
        if (CLASSES.getTotalLoadedClassCount() != loaded) {
            // the input reached code whose classes were loaded (and, fuzzing, instrumented by Jazzer) just now:
            // hundreds of MiB and seconds once, on this thread; that is not the input's cost
            synchronized (s) {
                s.executions++;
                s.classLoading++;
            }
            return;
        }
        s.add(nanos, allocated, length);
        if (s.executions % 10_000 == 0) save(target, s);
        // the first runs of each code path initialise classes (tens of MiB, once): the bounds hold after warm-up
        if (s.executions > WARM_EXECUTIONS && allocated > perByte * Math.max(length, 1) + slack) {
            throw new AssertionError(String.format(Locale.ROOT, "%s: an input of %d bytes allocated %.1f MiB, over %d x its size + %d MiB",
                    target, length, allocated / 1048576.0, perByte, slack >> 20));
        }
        if (FUZZING && s.executions > WARM_EXECUTIONS && nanos > MAX_NANOS) {
            // a collection of the fuzzer's multi-GB heap or a recompilation can stall any one input: time it again
            long t1 = System.nanoTime();
            body.run();
            long again = System.nanoTime() - t1;
            synchronized (s) {
                s.pauses++;
            }
            if (again > MAX_NANOS) {
                throw new AssertionError(String.format(Locale.ROOT, "%s: an input of %d bytes took %.0f ms, and %.0f ms again",
                        target, length, nanos / 1e6, again / 1e6));
            }
        }
    }
}
