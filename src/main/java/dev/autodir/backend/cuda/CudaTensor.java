package dev.autodir.backend.cuda;

import dev.autodir.backend.DataType;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Tensor;

import java.util.Arrays;

/**
 * A tensor in device memory: row-major, float32 or float16 ({@link #dtype()}), or int32 (token ids, masks, indices:
 * {@link #isInteger()}, stored in 4-byte elements with {@link #dtype()} FP32), owned by one {@link CudaOps}.
 *
 * <p>Kinds of owner: the scratch arena (transient results: valid until {@code endStage()}, or until the
 * CUDA graph that produced them is closed), the weight cache (until the backend closes), the caller
 * ({@link CudaOps#persistent}: until {@link #close()}), or a compiled network (its outputs: until its next run or
 * close). A view made by {@code reshape} shares its base's memory and lifetime. Using a tensor after its lifetime
 * ended throws {@link IllegalStateException}.
 */
public final class CudaTensor implements Tensor {
    enum Kind { TRANSIENT, WEIGHT, PERSISTENT, VIEW, NETWORK }

    private final CudaOps owner;
    private final int[] shape;
    private final long numel;
    private final Precision dtype;
    private final long address;
    private final Kind kind;
    private final Lifetime lifetime;                     // TRANSIENT / NETWORK / VIEW of either
    private final ScratchArena.Allocation allocation;    // TRANSIENT only
    private final DeviceMemory memory;                   // WEIGHT / PERSISTENT (or the base of a view)
    private final CudaTensor base;                       // VIEW only
    private final boolean integer;
    private boolean closed;

    private CudaTensor(CudaOps owner, int[] shape, Precision dtype, long address, Kind kind, Lifetime lifetime,
                       ScratchArena.Allocation allocation, DeviceMemory memory, CudaTensor base, boolean integer) {
        this.owner = owner;
        this.shape = shape.clone();
        this.numel = numel(shape);
        this.dtype = dtype;
        this.address = address;
        this.kind = kind;
        this.lifetime = lifetime;
        this.allocation = allocation;
        this.memory = memory;
        this.base = base;
        this.integer = integer;
        if (integer && dtype != Precision.FP32) throw new IllegalArgumentException("int32 tensors use 4-byte storage");
    }

    static CudaTensor inArena(CudaOps owner, int[] shape, Precision dtype, ScratchArena.Allocation a) {
        return new CudaTensor(owner, shape, dtype, a.address(), Kind.TRANSIENT, a.lifetime(), a, null, null, false);
    }

    static CudaTensor inArenaInt(CudaOps owner, int[] shape, ScratchArena.Allocation a) {
        return new CudaTensor(owner, shape, Precision.FP32, a.address(), Kind.TRANSIENT, a.lifetime(), a, null, null, true);
    }

    static CudaTensor owned(CudaOps owner, int[] shape, Precision dtype, DeviceMemory memory, Kind kind) {
        return owned(owner, shape, dtype, memory, kind, false);
    }

    static CudaTensor owned(CudaOps owner, int[] shape, Precision dtype, DeviceMemory memory, Kind kind, boolean integer) {
        return new CudaTensor(owner, shape, dtype, memory.address(), kind, null, null, memory, null, integer);
    }

    /** Memory of a compiled network (an output of its last run): valid while {@code lifetime} lives; close() keeps it. */
    static CudaTensor ofNetwork(CudaOps owner, int[] shape, Precision dtype, boolean integer, long address, Lifetime lifetime) {
        return new CudaTensor(owner, shape, dtype, address, Kind.NETWORK, lifetime, null, null, null, integer);
    }

    /** The transient allocation behind this tensor (through a view), or null for weights, persistent and network memory. */
    ScratchArena.Allocation transientAllocation() {
        return base != null ? base.allocation : allocation;
    }

    CudaTensor view(int[] newShape) {
        CudaTensor root = base != null ? base : this;
        return new CudaTensor(owner, newShape, dtype, address, Kind.VIEW, lifetime, null, memory, root, integer);
    }

    /** True for an int32 tensor. */
    public boolean isInteger() { return integer; }

    @Override public DataType dataType() {
        return integer ? DataType.INT32 : dtype == Precision.FP16 ? DataType.FLOAT16 : DataType.FLOAT32;
    }

    static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n *= d;
        }
        return n;
    }

    @Override public int[] shape() { return shape.clone(); }

    int[] shapeRef() { return shape; }

    public int rank() { return shape.length; }

    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }

    public long numel() { return numel; }

    public Precision dtype() { return dtype; }

    public long bytes() { return numel * dtype.bytes(); }

    CudaOps owner() { return owner; }

    Kind kind() { return kind; }

    /** The device address, after checking that the tensor is still valid; {@code op} names the caller. */
    long address(String op) {
        checkValid(op);
        return address;
    }

    boolean valid() {
        if (closed) return false;
        if (base != null && !base.valid()) return false;
        if (lifetime != null && !lifetime.alive()) return false;
        return memory == null || !memory.isClosed();
    }

    void checkValid(String op) {
        if (valid()) return;
        String why = lifetime != null && !lifetime.alive()
                ? "its " + lifetime.name() + " ended (transient tensors live until endStage() or until their CUDA graph closes, "
                + "a compiled network's outputs until its next run)"
                : "it was closed";
        throw new IllegalStateException(op + ": tensor " + Arrays.toString(shape) + " " + dtype + " is no longer valid: " + why);
    }

    /**
     * Releases early where possible: a persistent tensor frees its memory; a transient one that is the most
     * recent arena allocation gives its space back (and is then invalid); any other transient tensor, a weight
     * (cached, shared) or a view releases nothing and stays valid.
     */
    @Override
    public void close() {
        if (closed) return;
        switch (kind) {
            case PERSISTENT -> {
                closed = true;
                owner.releasePersistent(this, memory);
            }
            case TRANSIENT -> closed = owner.releaseTransient(allocation);   // still usable when nothing was given back
            case WEIGHT, VIEW, NETWORK -> { }
        }
    }

    @Override public String toString() {
        return "CudaTensor" + Arrays.toString(shape) + " " + (integer ? "INT32" : dtype) + " " + kind.name().toLowerCase(java.util.Locale.ROOT);
    }
}
