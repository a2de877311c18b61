package dev.autodir.backend.cuda;

/**
 * A compiled network's private block, handed out as its {@link MemoryPlan} says: the k-th transient allocation of the
 * captured run gets the k-th planned range. The captured run must make exactly the allocations the planning run
 * made (same order and sizes: the same operations with the same decisions); anything else throws, which fails the
 * capture rather than letting two live tensors share memory. Nothing is given back early: every range stays with its
 * allocation for the plan's lifetime of it.
 */
final class PlannedMemory implements TransientMemory {
    private final long base;
    private final MemoryPlan plan;
    private final Lifetime lifetime;
    private final String network;
    private int next;

    PlannedMemory(long base, MemoryPlan plan, Lifetime lifetime, String network) {
        if (base % ScratchArena.ALIGNMENT != 0) throw new IllegalArgumentException("block base " + base + " is not " + ScratchArena.ALIGNMENT + "-byte aligned");
        this.base = base;
        this.plan = plan;
        this.lifetime = lifetime;
        this.network = network;
    }

    @Override
    public ScratchArena.Allocation allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative allocation size " + bytes);
        long size = ScratchArena.roundUp(Math.max(bytes, 1), ScratchArena.ALIGNMENT);
        if (next >= plan.count()) {
            throw new IllegalStateException(network + ": the captured run allocates more than the " + plan.count()
                    + " transient buffers its planning run did (the forward function must do the same work every time)");
        }
        long planned = plan.request(next).bytes();
        if (size != planned) {
            throw new IllegalStateException(network + ": transient allocation " + next + " is " + size + " bytes in the captured run, "
                    + planned + " in the planning run (the forward function must do the same work every time)");
        }
        long offset = plan.offset(next++);
        return new ScratchArena.Allocation(base + offset, offset, size, lifetime);
    }

    @Override
    public boolean release(ScratchArena.Allocation a) { return false; }

    /** Throws unless every planned allocation was made. */
    void checkComplete() {
        if (next != plan.count()) {
            throw new IllegalStateException(network + ": the captured run made " + next + " of the " + plan.count()
                    + " transient allocations of its planning run");
        }
    }
}
