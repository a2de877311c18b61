package dev.autodir.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * One device buffer grown to the largest need seen so far: cuDNN's workspace, shared by the legacy and the graph-API
 * convolutions (one stream, so never used by both at once). Growing synchronises first (queued work may still use
 * the old buffer) and is refused during a CUDA graph capture, whose warm-up run must have grown it already.
 *
 * <p>A captured graph holds the workspace address it was captured with. When the buffer grows while
 * {@code graphsAlive} says graphs exist, the old buffer is therefore retired, not freed: it stays allocated until
 * {@link #releaseRetired()} is called with no graph left (the backend does so when its last graph closes) or the
 * workspace closes. Device calls go through {@link ScratchArena.Allocator}, so this is tested without a GPU.
 */
final class Workspace implements AutoCloseable {
    private record Block(long address, long bytes) { }

    private final String name;
    private final ScratchArena.Allocator allocator;
    private final BooleanSupplier graphsAlive;
    private Block current;
    private final List<Block> retired = new ArrayList<>();

    Workspace(String name, ScratchArena.Allocator allocator, BooleanSupplier graphsAlive) {
        this.name = name;
        this.allocator = allocator;
        this.graphsAlive = graphsAlive;
    }

    /** At least {@code bytes}; {@code mayAllocate} false (inside a capture) turns a needed growth into an exception. */
    void ensure(long bytes, boolean mayAllocate, Runnable synchronize) {
        if (bytes <= bytes()) return;
        if (!mayAllocate) {
            throw new IllegalStateException(name + " must grow to " + bytes + " bytes during a CUDA graph capture; run the body once before capturing");
        }
        synchronize.run();
        Block old = current;
        current = null;
        if (old != null) {
            if (graphsAlive.getAsBoolean()) retired.add(old);
            else allocator.free(old.address());
        }
        current = new Block(allocator.allocate(bytes), bytes);
    }

    long bytes() { return current == null ? 0 : current.bytes(); }

    /** The buffer's device address, 0 while nothing was needed. */
    long address() { return current == null ? 0 : current.address(); }

    /** Bytes of outgrown buffers kept for live graphs. */
    long retiredBytes() {
        long n = 0;
        for (Block b : retired) n += b.bytes();
        return n;
    }

    /** Frees the outgrown buffers; only when no captured graph is left (the caller has synchronised). */
    void releaseRetired() {
        if (graphsAlive.getAsBoolean()) throw new IllegalStateException(name + ": outgrown buffers are still held by live CUDA graphs");
        freeRetired();
    }

    private void freeRetired() {
        Closer c = new Closer();
        for (Block b : retired) c.run(() -> allocator.free(b.address()));
        retired.clear();
        c.rethrow();
    }

    @Override
    public void close() {
        Block b = current;
        current = null;
        Closer c = new Closer();
        if (b != null) c.run(() -> allocator.free(b.address()));
        c.run(this::freeRetired);
        c.rethrow();
    }
}
