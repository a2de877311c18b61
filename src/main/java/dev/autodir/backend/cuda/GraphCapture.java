package dev.autodir.backend.cuda;

import dev.autodir.backend.Tensor;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import static org.bytedeco.cuda.global.cudart.cudaGraphDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphExecDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphInstantiate;
import static org.bytedeco.cuda.global.cudart.cudaGraphLaunch;
import static org.bytedeco.cuda.global.cudart.cudaStreamBeginCapture;
import static org.bytedeco.cuda.global.cudart.cudaStreamCaptureModeThreadLocal;
import static org.bytedeco.cuda.global.cudart.cudaStreamEndCapture;

/**
 * The cuda backend's graph capture: the stream-capture protocol ({@link #record}: begin, run the body, end,
 * instantiate, with the backend in capture mode so host transfers and allocations that would end up in the graph
 * throw instead), {@link CudaOps#capture}'s graphs over the scratch arena, and the list of live graphs and compiled
 * networks, which the backend closes before its memory.
 */
final class GraphCapture {
    /** A captured, instantiated graph and what the body returned; {@link #close()} destroys both graph objects. */
    static final class Recorded<T> implements AutoCloseable {
        final T value;
        private final CUgraph_st graph;
        private final CUgraphExec_st exec;
        private boolean closed;

        private Recorded(T value, CUgraph_st graph, CUgraphExec_st exec) {
            this.value = value;
            this.graph = graph;
            this.exec = exec;
        }

        void launch(CudaDevice device) {
            if (closed) throw new IllegalStateException("launch of a destroyed CUDA graph");
            CudaCheck.rt(cudaGraphLaunch(exec, device.stream()), "cudaGraphLaunch");
        }

        /** Destroys the graph (the caller has synchronised: no launch of it may still run). */
        @Override
        public void close() {
            if (closed) return;
            closed = true;
            try {
                CudaCheck.rt(cudaGraphExecDestroy(exec), "cudaGraphExecDestroy");
            } finally {
                CudaCheck.rt(cudaGraphDestroy(graph), "cudaGraphDestroy");
            }
        }
    }

    private final CudaOps ops;
    private final CudaDevice device;
    private final CudaMemory memory;
    private final List<AutoCloseable> live = new ArrayList<>();
    private final Runnable lastClosed;
    private boolean capturing;

    /** {@code lastClosed} runs when the last live graph or compiled network has closed (e.g. to free retired workspaces). */
    GraphCapture(CudaOps ops, CudaDevice device, CudaMemory memory, Runnable lastClosed) {
        this.ops = ops;
        this.device = device;
        this.memory = memory;
        this.lastClosed = lastClosed;
    }

    boolean capturing() { return capturing; }

    /** Whether any captured graph or compiled network holds device addresses (then no buffer it may use is freed). */
    boolean alive() { return !live.isEmpty(); }

    void opened(AutoCloseable graph) { live.add(graph); }

    void closed(AutoCloseable graph) {
        if (live.remove(graph) && live.isEmpty()) lastClosed.run();
    }

    /**
     * Captures {@code body} from the stream and instantiates it. The backend is in capture mode while the body runs;
     * when the body or the capture fails, the stream leaves capture mode, nothing is kept and the failure is thrown.
     */
    <T> Recorded<T> record(Supplier<T> body) {
        if (capturing) throw new IllegalStateException("capture inside a capture");
        capturing = true;
        T value = null;
        Throwable failure = null;
        CUgraph_st graph = new CUgraph_st();
        try {
            CudaCheck.rt(cudaStreamBeginCapture(device.stream(), cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
            try {
                value = body.get();
            } catch (Throwable e) {
                failure = e;
            }
            int rc = cudaStreamEndCapture(device.stream(), graph);
            if (failure == null) CudaCheck.rt(rc, "cudaStreamEndCapture");
        } catch (Throwable e) {
            if (failure == null) failure = e;
        } finally {
            capturing = false;
        }
        CUgraphExec_st exec = null;
        if (failure == null) {
            exec = new CUgraphExec_st();
            int rc = cudaGraphInstantiate(exec, graph, 0L);
            if (rc != 0) {
                exec = null;
                try {
                    CudaCheck.rt(rc, "cudaGraphInstantiate");
                } catch (CudaException e) {
                    failure = e;
                }
            }
        }
        if (failure != null) {
            if (!graph.isNull()) cudaGraphDestroy(graph);
            if (failure instanceof RuntimeException r) throw r;
            if (failure instanceof Error e) throw e;
            throw new IllegalStateException("capture failed", failure);
        }
        return new Recorded<>(value, graph, exec);
    }

    /** See {@link CudaOps#capture}. */
    CudaGraph capture(Supplier<? extends Tensor> body) {
        if (capturing) throw new IllegalStateException("capture inside a capture");
        ScratchArena arena = memory.arena();
        ops.synchronize();
        long mark = arena.top();
        Lifetime warm = new Lifetime("CUDA graph warm-up");
        Lifetime stage = arena.switchLifetime(warm);
        boolean warmedUp = false;
        try {
            body.get();
            warmedUp = true;
        } finally {
            arena.switchLifetime(stage);
            warm.end();
            if (!warmedUp) {
                try {
                    device.synchronize("capture warm-up");
                } finally {
                    arena.rewind(mark);
                }
            }
        }
        ops.synchronize();
        boolean spilled = arena.spilled();
        long needed = arena.highWater();
        arena.rewind(mark);
        if (spilled && arena.capacity() < needed) {
            throw new IllegalStateException("the graph body needs " + needed + " bytes of scratch arena, " + arena.capacity()
                    + " are allocated and " + mark + " were in use before the capture: capture right after endStage() "
                    + "(then the arena grows) or create CudaOps with Options.withArenaBytes(" + needed + ")");
        }

        Lifetime graphLifetime = new Lifetime("CUDA graph");
        arena.switchLifetime(graphLifetime);
        arena.freeze();
        Recorded<? extends Tensor> recorded = null;
        Throwable failure = null;
        try {
            recorded = record(body);
        } catch (Throwable e) {
            failure = e;
        } finally {
            arena.unfreeze();
            arena.switchLifetime(stage);
        }
        if (failure == null && !(recorded.value instanceof CudaTensor ct && ct.owner() == ops)) {
            recorded.close();
            failure = new IllegalArgumentException("capture: the body returned " + recorded.value + ", not a tensor of this backend");
        }
        if (failure != null) {
            graphLifetime.end();
            arena.rewind(mark);
            if (failure instanceof RuntimeException r) throw r;
            if (failure instanceof Error e) throw e;
            throw new IllegalStateException("capture failed", failure);
        }
        CudaGraph g = new CudaGraph(ops, recorded, (CudaTensor) recorded.value, graphLifetime, arena.top() - mark);
        arena.reserve(mark, g);
        opened(g);
        return g;
    }

    /** Closes every live graph and compiled network (before the backend frees its memory). */
    void closeAll(Closer c) {
        for (AutoCloseable g : new ArrayList<>(live)) {
            c.run(() -> {
                try {
                    g.close();
                } catch (RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
        }
        live.clear();
    }
}
