package dev.autodir.testing;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.TestSource;
import org.junit.platform.engine.support.descriptor.ClassSource;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.logging.Handler;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * What a test run prints beyond failures, registered for every run through
 * {@code META-INF/services/org.junit.platform.launcher.TestExecutionListener}:
 *
 * <ul>
 *   <li>a summary line at the end, also under {@code mvn -q}: tests run, failed, skipped, and the time;</li>
 *   <li>one line per reason tests were skipped (a failed assumption, {@code @Disabled}), with the classes it
 *       applies to, so that "skipped because there is no GPU" is visible;</li>
 *   <li>java.util.logging output (where {@link System.Logger} goes) held back per test and printed only when the
 *       test fails: tests that check a fallback make the code log warnings with stack traces on purpose, and those
 *       lines looked like failures on a green run. A failing test shows everything it logged.</li>
 * </ul>
 *
 * <p>With several forked JVMs each prints its own summary.
 */
public final class TestRunReport implements TestExecutionListener {
    private final PrintStream out;
    private final PrintStream err;
    private final List<LogRecord> held = new ArrayList<>();
    private final Handler holder = new Handler() {
        @Override public void publish(LogRecord r) {
            synchronized (held) {
                held.add(r);
            }
        }

        @Override public void flush() { }

        @Override public void close() { }
    };
    private Handler[] rootHandlers = new Handler[0];
    private TestPlan plan;
    private long start;
    private int passed, failed, skipped;
    private final Map<String, Set<String>> skipReasons = new LinkedHashMap<>();   // reason -> class names
    private final Map<String, Integer> skipCounts = new LinkedHashMap<>();

    /** Prints to System.out and System.err (what the ServiceLoader registration uses). */
    public TestRunReport() {
        this(System.out, System.err);
    }

    TestRunReport(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override public void testPlanExecutionStarted(TestPlan testPlan) {
        plan = testPlan;
        start = System.nanoTime();
        Logger root = LogManager.getLogManager().getLogger("");
        rootHandlers = root.getHandlers();
        for (Handler h : rootHandlers) root.removeHandler(h);
        root.addHandler(holder);
    }

    @Override public void executionSkipped(TestIdentifier id, String reason) {
        int tests = id.isTest() ? 1 : (int) plan.getDescendants(id).stream().filter(TestIdentifier::isTest).count();
        skipped(id, Math.max(tests, 1), reason);
    }

    @Override public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        TestExecutionResult.Status status = result.getStatus();
        if (status == TestExecutionResult.Status.FAILED) {
            releaseHeld(id);
            if (id.isTest()) failed++;                         // a failing container: surefire reports it
        } else {
            dropHeld();
        }
        if (!id.isTest() && status != TestExecutionResult.Status.ABORTED) return;
        switch (status) {
            case SUCCESSFUL -> passed++;
            case ABORTED -> {
                // an assumption failed: in a test, or in a class's @BeforeAll (then its tests never started)
                int tests = id.isTest() ? 1 : (int) plan.getDescendants(id).stream().filter(TestIdentifier::isTest).count();
                skipped(id, Math.max(tests, 1), result.getThrowable().map(Throwable::getMessage).orElse("aborted"));
            }
            default -> { }
        }
    }

    @Override public void testPlanExecutionFinished(TestPlan testPlan) {
        Logger root = LogManager.getLogManager().getLogger("");
        root.removeHandler(holder);
        for (Handler h : rootHandlers) root.addHandler(h);
        for (Map.Entry<String, Set<String>> e : skipReasons.entrySet()) {
            List<String> classes = new ArrayList<>(e.getValue());
            String where = classes.size() <= 4 ? String.join(", ", classes)
                    : String.join(", ", classes.subList(0, 4)) + " and " + (classes.size() - 4) + " more classes";
            out.println("tests: skipped " + skipCounts.get(e.getKey()) + " in " + where + ": " + e.getKey());
        }
        out.printf(Locale.ROOT, "tests: %d run, %d passed, %d failed, %d skipped (%.0f s)%n", passed + failed, passed, failed,
                skipped, (System.nanoTime() - start) / 1e9);
        out.flush();
    }

    private void skipped(TestIdentifier id, int tests, String reason) {
        skipped += tests;
        String r = reason == null || reason.isBlank() ? "no reason given" : reason.replaceAll("\\s*\\R\\s*", " ").trim();
        if (r.startsWith("Assumption failed: ")) r = r.substring("Assumption failed: ".length());
        skipReasons.computeIfAbsent(r, k -> new LinkedHashSet<>()).add(className(id));
        skipCounts.merge(r, tests, Integer::sum);
    }

    private static String className(TestIdentifier id) {
        TestSource s = id.getSource().orElse(null);
        String name;
        if (s instanceof MethodSource m) name = m.getClassName();
        else if (s instanceof ClassSource c) name = c.getClassName();
        else return id.getDisplayName();
        return name.substring(name.lastIndexOf('.') + 1);
    }

    /** A failure: print what the test logged, as the console handler would have. */
    private void releaseHeld(TestIdentifier id) {
        List<LogRecord> records;
        synchronized (held) {
            records = new ArrayList<>(held);
            held.clear();
        }
        if (records.isEmpty()) return;
        SimpleFormatter f = new SimpleFormatter();
        err.println("---- log of " + id.getDisplayName() + " (failed) ----");
        for (LogRecord r : records) err.print(f.format(r));
        err.flush();
    }

    private void dropHeld() {
        synchronized (held) {
            held.clear();
        }
    }
}
