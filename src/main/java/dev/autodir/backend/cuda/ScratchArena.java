package dev.autodir.backend.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * One block of device memory handed out by bumping an offset: the transient tensors of a stage. It is sized
 * to the largest stage seen so far and reused across stages and sampling steps; {@link #endStage} frees
 * every transient tensor at once.
 *
 * <p>A stage that needs more than the block holds gets separate "spill" allocations so it still runs;
 * {@link #endStage} then frees them and grows the block to the stage's high-water mark, so the next run of
 * that stage fits. While a CUDA graph is captured the arena is frozen: a spill would put an address into the
 * graph that later disappears, so it throws instead (the capture's warm-up run sizes the arena first).
 *
 * <p>A captured graph keeps its tensors' region reserved until it is closed: {@link #endStage} rewinds to
 * the end of the highest live reservation, never below it, and the block is not moved while any exists.
 *
 * <p>Device calls go through {@link Allocator}, so the bookkeeping is tested without a GPU.
 */
final class ScratchArena implements TransientMemory, AutoCloseable {
    static final long ALIGNMENT = 256;
    /** Growth granularity, so a slowly creeping stage does not reallocate every time. */
    static final long GROWTH_QUANTUM = 32L << 20;

    interface Allocator {
        long allocate(long bytes);

        void free(long address);
    }

    /** One transient allocation: an address inside the block (offset >= 0) or a spill (offset -1). */
    record Allocation(long address, long offset, long bytes, Lifetime lifetime) {
        boolean spill() { return offset < 0; }
    }

    private record Spill(long address, long bytes) { }

    private record Reservation(long begin, long end, Object owner) { }

    private final Allocator allocator;
    private long base;
    private long capacity;
    private long top;
    private long floor;
    private long highWater;
    private long spillBytes;
    private final List<Spill> spills = new ArrayList<>();
    private final List<Reservation> reservations = new ArrayList<>();
    private boolean frozen;
    private Lifetime lifetime;
    private int stageCount = 1;
    private boolean closed;

    ScratchArena(Allocator allocator, long initialBytes) {
        this.allocator = allocator;
        this.capacity = roundUp(Math.max(initialBytes, ALIGNMENT), ALIGNMENT);
        this.base = allocator.allocate(capacity);
        this.lifetime = new Lifetime("stage 1");
    }

    static long roundUp(long v, long quantum) {
        return (v + quantum - 1) / quantum * quantum;
    }

    @Override public Allocation allocate(long bytes) {
        ensureOpen();
        if (bytes < 0) throw new IllegalArgumentException("negative allocation size " + bytes);
        long size = roundUp(Math.max(bytes, 1), ALIGNMENT);
        if (top + size <= capacity) {
            long offset = top;
            top += size;
            highWater = Math.max(highWater, top + spillBytes);
            return new Allocation(base + offset, offset, size, lifetime);
        }
        if (frozen) {
            throw new IllegalStateException("scratch arena full while capturing a CUDA graph: " + size
                    + " more bytes needed with " + (capacity - top) + " of " + capacity
                    + " free; capture from an empty arena (after endStage) or create CudaOps with a larger arenaBytes");
        }
        long address = allocator.allocate(size);
        spills.add(new Spill(address, size));
        spillBytes += size;
        highWater = Math.max(highWater, top + spillBytes);
        return new Allocation(address, -1, size, lifetime);
    }

    /**
     * Gives back an allocation early when it is the most recent one of the block (a stack pop) and returns true;
     * else does nothing and returns false.
     */
    @Override public boolean release(Allocation a) {
        if (closed || a.spill() || a.lifetime() != lifetime) return false;
        if (a.offset() + a.bytes() != top || a.offset() < floor) return false;
        top = a.offset();
        return true;
    }

    /**
     * Ends the stage: every transient tensor of it becomes invalid. The caller has synchronised the stream
     * when {@link #needsSyncBeforeEndStage()} says so (spills are freed and the block may be reallocated).
     */
    void endStage() {
        ensureOpen();
        if (frozen) throw new IllegalStateException("endStage() while a CUDA graph is being captured");
        lifetime.end();
        stageCount++;
        lifetime = new Lifetime("stage " + stageCount);
        rewind(floor);
    }

    /** Whether {@link #endStage} or {@link #rewind} will free or move device memory (then sync first). */
    boolean needsSyncBeforeEndStage() {
        return !spills.isEmpty();
    }

    /**
     * Drops everything above {@code mark} (which must be at or above the reserved floor), frees the spills and,
     * when the high-water mark passed the capacity and no graph holds a reservation, grows the block.
     */
    void rewind(long mark) {
        if (mark < floor || mark > top) throw new IllegalStateException("rewind to " + mark + " outside [" + floor + ", " + top + "]");
        for (Spill s : spills) allocator.free(s.address());
        spills.clear();
        spillBytes = 0;
        top = mark;
        if (highWater > capacity && reservations.isEmpty() && mark == 0) {
            long newCapacity = roundUp(highWater, GROWTH_QUANTUM);
            allocator.free(base);
            base = 0;
            base = allocator.allocate(newCapacity);
            capacity = newCapacity;
        }
        highWater = top;
    }

    /** A new lifetime for the allocations that follow (a graph warm-up or capture); returns the previous one. */
    Lifetime switchLifetime(Lifetime next) {
        Lifetime previous = lifetime;
        lifetime = next;
        return previous;
    }

    void freeze() { frozen = true; }

    void unfreeze() { frozen = false; }

    boolean frozen() { return frozen; }

    /** Keeps [begin, top) for {@code owner} until {@link #unreserve}; endStage rewinds no lower than that. */
    void reserve(long begin, Object owner) {
        reservations.add(new Reservation(begin, top, owner));
        floor = Math.max(floor, top);
    }

    void unreserve(Object owner) {
        reservations.removeIf(r -> r.owner() == owner);
        long f = 0;
        for (Reservation r : reservations) f = Math.max(f, r.end());
        floor = f;
    }

    long top() { return top; }

    long floor() { return floor; }

    long capacity() { return capacity; }

    long highWater() { return highWater; }

    long spillBytes() { return spillBytes; }

    boolean spilled() { return !spills.isEmpty(); }

    Lifetime lifetime() { return lifetime; }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        lifetime.end();
        for (Spill s : spills) allocator.free(s.address());
        spills.clear();
        if (base != 0) allocator.free(base);
        base = 0;
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("the scratch arena is closed");
    }
}
