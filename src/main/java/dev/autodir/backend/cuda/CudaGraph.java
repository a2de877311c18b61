package dev.autodir.backend.cuda;

/**
 * A body of operations captured once by {@link CudaOps#capture} and replayed with one launch. Its transient
 * tensors (the output included) keep their arena addresses until {@link #close()}: after each
 * {@link #replay()} the {@link #output()} tensor holds the new result (stream-ordered: read it with
 * download, or use it in later operations).
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaOps ops;
    private final GraphCapture.Recorded<?> recorded;
    private final CudaTensor output;
    private final Lifetime lifetime;
    private final long arenaBytes;
    private long replays;
    private boolean closed;

    CudaGraph(CudaOps ops, GraphCapture.Recorded<?> recorded, CudaTensor output, Lifetime lifetime, long arenaBytes) {
        this.ops = ops;
        this.recorded = recorded;
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
        ops.launch(recorded);
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
                recorded.close();
            } finally {
                ops.graphClosed(this);
            }
        }
    }
}
