package dev.autodir.backend.cuda;

import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;

import static org.bytedeco.cuda.global.cudart.cudaGraphDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphExecDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphLaunch;

/**
 * A body of operations captured once by {@link CudaOps#capture} and replayed with one launch. Its transient
 * tensors (the output included) keep their arena addresses until {@link #close()}: after each
 * {@link #replay()} the {@link #output()} tensor holds the new result (stream-ordered: read it with
 * download, or use it in later operations).
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaOps ops;
    private final CUgraph_st graph;
    private final CUgraphExec_st exec;
    private final CudaTensor output;
    private final Lifetime lifetime;
    private final long arenaBytes;
    private long replays;
    private boolean closed;

    CudaGraph(CudaOps ops, CUgraph_st graph, CUgraphExec_st exec, CudaTensor output, Lifetime lifetime, long arenaBytes) {
        this.ops = ops;
        this.graph = graph;
        this.exec = exec;
        this.output = output;
        this.lifetime = lifetime;
        this.arenaBytes = arenaBytes;
    }

    /** The tensor the captured body returned; rewritten by every replay; valid until close. */
    public CudaTensor output() {
        if (closed) throw new IllegalStateException("CUDA graph is closed");
        return output;
    }

    /** Launches the captured work on the backend's stream (asynchronous, like any operation). */
    public void replay() {
        if (closed) throw new IllegalStateException("replay of a closed CUDA graph");
        ops.enter("replay");
        if (ops.capturing()) throw new IllegalStateException("replay inside a capture");
        CudaCheck.rt(cudaGraphLaunch(exec, ops.stream()), "cudaGraphLaunch");
        replays++;
    }

    public long replays() { return replays; }

    /** Scratch-arena bytes the graph's tensors occupy (reserved while the graph lives). */
    public long arenaBytes() { return arenaBytes; }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        lifetime.end();
        try {
            // a replay may still be running on the stream
            ops.synchronize();
        } finally {
            try {
                CudaCheck.rt(cudaGraphExecDestroy(exec), "cudaGraphExecDestroy");
            } finally {
                try {
                    CudaCheck.rt(cudaGraphDestroy(graph), "cudaGraphDestroy");
                } finally {
                    ops.graphClosed(this);
                }
            }
        }
    }
}
