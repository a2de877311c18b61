package dev.autodir.backend.cuda;

/**
 * One device buffer grown to the largest need seen so far: cuDNN's workspace, shared by the legacy and the graph-API
 * convolutions (one stream, so never used by both at once). Growing synchronises first (queued work may still use
 * the old buffer) and is refused during a CUDA graph capture, whose warm-up run must have grown it already.
 */
final class Workspace implements AutoCloseable {
    private final String name;
    private DeviceMemory memory;

    Workspace(String name) { this.name = name; }

    /** At least {@code bytes}; {@code mayAllocate} false (inside a capture) turns a needed growth into an exception. */
    void ensure(long bytes, boolean mayAllocate, Runnable synchronize) {
        if (bytes <= bytes()) return;
        if (!mayAllocate) {
            throw new IllegalStateException(name + " must grow to " + bytes + " bytes during a CUDA graph capture; run the body once before capturing");
        }
        synchronize.run();
        if (memory != null) memory.close();
        memory = null;
        memory = DeviceMemory.allocate(bytes, name);
    }

    long bytes() { return memory == null ? 0 : memory.bytes(); }

    /** The buffer's device address, 0 while nothing was needed. */
    long address() { return memory == null ? 0 : memory.address(); }

    @Override
    public void close() {
        DeviceMemory m = memory;
        memory = null;
        if (m != null) m.close();
    }
}
