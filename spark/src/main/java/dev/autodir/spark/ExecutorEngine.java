package dev.autodir.spark;

import dev.autodir.cli.OptionStrings;
import dev.autodir.engine.AutoDIREngine;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

import java.util.Map;

/**
 * The one engine of an executor JVM: opened lazily by the first task that has an image to restore (a task whose
 * images are all done opens none), shared by the tasks that run in the JVM (the engine serialises their restores),
 * reopened only when a task asks for other engine options, and closed when the JVM shuts down.
 *
 * <p>GPU executors: when the task that opens the engine was given a GPU by Spark's resource scheduling
 * ({@code spark.executor.resource.gpu.amount}, {@code spark.task.resource.gpu.amount}), the first address of its
 * "gpu" resource becomes the cuda backend's device ordinal (the system property {@code autodir.cuda.device}), so
 * executors sharing a machine use the GPUs Spark gave them. Give each executor one GPU: its engine serves all its
 * tasks on that device.
 */
final class ExecutorEngine {
    /** An open engine and what the report needs of it. */
    record Opened(AutoDIREngine engine, AutoDIREngine.Settings settings, double loadMs) { }

    private static Map<String, String> openedWith;
    private static Opened current;
    private static int opens;
    private static boolean hooked;

    private ExecutorEngine() { }

    /** The engine of these engine options (weights, config, tokenizer, backend, precision), opened if needed. */
    static synchronized Opened get(Map<String, String> engineOptions) {
        if (current != null && engineOptions.equals(openedWith)) return current;
        close();
        OptionStrings.Parsed p = OptionStrings.parse(engineOptions);
        if (p.settings() == null) throw new IllegalArgumentException("weights: no checkpoint given");
        String gpu = assignedGpu();
        if (gpu != null) System.setProperty("autodir.cuda.device", gpu);
        long t0 = System.nanoTime();
        AutoDIREngine engine = AutoDIREngine.open(p.settings());
        current = new Opened(engine, p.settings(), (System.nanoTime() - t0) / 1e6);
        openedWith = Map.copyOf(engineOptions);
        opens++;
        if (!hooked) {
            Runtime.getRuntime().addShutdownHook(new Thread(ExecutorEngine::close, "autodir-engine-close"));
            hooked = true;
        }
        return current;
    }

    /** The first GPU address Spark assigned to the running task, or null (no task, no GPU resource). */
    static String assignedGpu() {
        TaskContext task = TaskContext.get();
        if (task == null) return null;
        ResourceInformation gpu = task.resourcesJMap().get("gpu");
        return gpu == null || gpu.addresses().length == 0 ? null : gpu.addresses()[0].trim();
    }

    /** Closes the engine (the next task that needs one opens it again). */
    static synchronized void close() {
        if (current == null) return;
        try {
            current.engine().close();
        } finally {
            current = null;
            openedWith = null;
        }
    }

    /** How many engines this JVM has opened (for tests: one per executor). */
    static synchronized int opens() { return opens; }
}
