package dev.autodir.backend.onnxruntime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.ForwardingOps;
import dev.autodir.backend.Network;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.record.Graph;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;

/**
 * The onnxruntime backend: every compiled network runs as an ONNX Runtime session on the network's exported graph;
 * everything else (the sampler's updates, concatenations, crops: the eager glue between networks) runs on a cpu
 * backend this one owns, on its host tensors. {@link #compile} records the network, exports it (or reuses the export
 * in the cache folder: {@code -Dautodir.onnx.cache=DIR}, else a temporary folder deleted on {@link #close()}), and
 * opens a session for it.
 *
 * <p>Execution provider: CUDA when ONNX Runtime offers it (the {@code onnxruntime_gpu} build on the classpath or its
 * libraries under {@code -Donnxruntime.native.path}), else CPU; {@code -Dautodir.onnxruntime.cuda=false} keeps CPU.
 * {@link #describe()} says which ran. Graph optimisations: all levels (checked against the cpu backend by the golden
 * set and the per-operation conformance suite at 1e-5).
 */
public final class OnnxRuntimeOps extends ForwardingOps {
    /** The system property naming a folder whose exports are kept and reused across runs. */
    public static final String CACHE_PROPERTY = "autodir.onnx.cache";

    private final CpuOps cpu;
    private final OrtEnvironment env;
    private final ExportCache cache;
    private final boolean cuda;
    private final int threads;
    private final Deque<OnnxRuntimeNetwork> open = new ArrayDeque<>();
    private boolean closed;

    /**
     * @param cpu     the cpu backend for the eager operations; owned (closed with this backend)
     * @param cache   a folder to keep exports in across runs, or null for a temporary one
     * @param notices where a fallback (CUDA asked for but unusable) is reported; may be null
     */
    public OnnxRuntimeOps(CpuOps cpu, Path cache, PrintStream notices) {
        super(cpu);
        this.cpu = cpu;
        this.threads = Runtime.getRuntime().availableProcessors();
        String why = OnnxRuntimeAvailability.unavailableReason();
        if (why != null) throw new IllegalStateException("onnxruntime backend: " + why);
        this.env = OrtEnvironment.getEnvironment();
        this.cuda = cudaUsable(notices);
        this.cache = new ExportCache(cache);
    }

    /** With the cache folder of {@code -Dautodir.onnx.cache} (a temporary one when unset). */
    public static OnnxRuntimeOps open(PrintStream notices) {
        String dir = System.getProperty(CACHE_PROPERTY);
        return new OnnxRuntimeOps(new CpuOps(), dir == null || dir.isBlank() ? null : Path.of(dir), notices);
    }

    private boolean cudaUsable(PrintStream notices) {
        if (!OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) return false;
        if ("false".equalsIgnoreCase(System.getProperty("autodir.onnxruntime.cuda"))) return false;
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.addCUDA(0);
            return true;
        } catch (OrtException | RuntimeException e) {
            if (notices != null) notices.println("autodir: onnxruntime offers CUDA but it cannot start (" + e.getMessage() + "); using its CPU execution provider");
            return false;
        }
    }

    @Override public String name() { return "onnxruntime"; }

    /** "onnxruntime 1.29.0, CPU execution provider, 2 threads, exports in /tmp/autodir-onnx-... (temporary)". */
    @Override public String describe() {
        return String.format(Locale.ROOT, "onnxruntime %s, %s execution provider, %d threads, graph optimisations all, exports in %s%s",
                env.getVersion(), provider(), threads, cache.root(), cache.temporary() ? " (temporary)" : "");
    }

    String provider() { return cuda ? "CUDA" : "CPU"; }

    @Override public synchronized CompiledNetwork compile(Network network) {
        if (closed) throw new IllegalStateException("onnxruntime backend is closed");
        Graph graph = Graph.record(network);
        ExportCache.Entry export = cache.get(graph);
        OnnxRuntimeNetwork n = new OnnxRuntimeNetwork(this, network, graph.outputSpecs(), export, env, options());
        open.push(n);
        return n;
    }

    private OrtSession.SessionOptions options() {
        OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        try {
            o.setIntraOpNumThreads(threads);
            o.setInterOpNumThreads(1);
            o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (cuda) o.addCUDA(0);
            return o;
        } catch (OrtException e) {
            o.close();
            throw new IllegalStateException("onnxruntime: cannot set the session options: " + e.getMessage(), e);
        }
    }

    /** The cpu backend the eager operations and the host tensors belong to. */
    CpuOps cpu() { return cpu; }

    synchronized void closed(OnnxRuntimeNetwork n) { open.remove(n); }

    /** Closes the sessions still open (newest first), the environment, the temporary export cache, then the cpu backend. */
    @Override public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        RuntimeException first = null;
        while (true) {
            OnnxRuntimeNetwork n;
            synchronized (this) {
                n = open.peek();
            }
            if (n == null) break;
            try {
                n.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
            synchronized (this) {
                open.remove(n);
            }
        }
        env.close();
        try {
            cache.close();
        } catch (RuntimeException e) {
            if (first == null) first = e;
        }
        cpu.close();
        if (first != null) throw first;
    }
}
