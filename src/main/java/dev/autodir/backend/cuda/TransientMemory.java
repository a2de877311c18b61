package dev.autodir.backend.cuda;

/**
 * Where the cuda backend's transient tensors (operation results and their scratch) are allocated: the shared
 * {@link ScratchArena} (freed by {@code endStage()}), or, while a compiled network is planned or captured, the
 * network's tracing or planned memory ({@link CudaNetwork}). {@link CudaMemory#route} switches it.
 */
interface TransientMemory {
    ScratchArena.Allocation allocate(long bytes);

    /** Gives {@code a} back early where this memory can (an arena pop); false when nothing was given back. */
    boolean release(ScratchArena.Allocation a);
}
