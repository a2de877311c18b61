package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The cuda backend's memory: transient tensors from the current {@link TransientMemory} (the shared scratch arena,
 * or a compiled network's tracing or planned memory while it is planned or captured), the weight cache (uploaded
 * once in the backend's precision, each in its own allocation, until the backend closes), and persistent tensors
 * owned by the caller ({@code keep}, {@code persistent}: until they are closed).
 */
final class CudaMemory {
    private final CudaOps owner;
    private final CudaDevice device;
    private final ScratchArena arena;
    private TransientMemory current;
    private final Map<WeightStore, Map<String, CudaTensor>> weights = new IdentityHashMap<>();
    private final List<DeviceMemory> weightMemory = new ArrayList<>();
    private final Set<DeviceMemory> persistentMemory = new LinkedHashSet<>();
    private boolean closed;

    CudaMemory(CudaOps owner, CudaDevice device, long arenaBytes) {
        this.owner = owner;
        this.device = device;
        this.arena = new ScratchArena(new ScratchArena.Allocator() {
            @Override public long allocate(long bytes) { return DeviceMemory.rawAllocate(bytes, "scratch arena"); }

            @Override public void free(long address) { DeviceMemory.rawFree(address, "scratch arena"); }
        }, arenaBytes);
        this.current = arena;
    }

    ScratchArena arena() { return arena; }

    /** Sends the transient allocations that follow to {@code next} (null: the arena again); returns the previous memory. */
    TransientMemory route(TransientMemory next) {
        TransientMemory previous = current;
        current = next == null ? arena : next;
        return previous;
    }

    /** Raw transient scratch (a column buffer, attention scores): valid like a transient tensor. */
    ScratchArena.Allocation allocate(long bytes) { return current.allocate(bytes); }

    /** Gives back {@code a} early where the current memory can (the top of the arena). */
    boolean release(ScratchArena.Allocation a) { return !closed && current.release(a); }

    CudaTensor alloc(Precision dtype, int... shape) {
        long n = CudaTensor.numel(shape);
        return CudaTensor.inArena(owner, shape, dtype, allocate(n * dtype.bytes()));
    }

    CudaTensor allocInt(int... shape) {
        return CudaTensor.inArenaInt(owner, shape, allocate(4L * CudaTensor.numel(shape)));
    }

    /** The cached device copy of {@code key}, uploaded on first use (refused while capturing: the warm-up uploads). */
    CudaTensor weight(WeightStore store, String key, Precision precision, boolean capturing) {
        Map<String, CudaTensor> cache = weights.computeIfAbsent(store, s -> new HashMap<>());
        CudaTensor w = cache.get(key);
        if (w != null) return w;
        if (capturing) throw CudaOps.captureRefuses("weight(" + key + ")");
        FloatTensor host = store.readFloat(key);
        DeviceMemory mem = DeviceMemory.allocate(host.numel() * (long) precision.bytes(), "weight " + key);
        try {
            device.copyFromHost(host.data(), mem.address(), precision, "weight(" + key + ")");
        } catch (RuntimeException e) {
            try {
                device.synchronize("weight upload failed");
            } finally {
                mem.close();
            }
            throw e;
        }
        weightMemory.add(mem);
        w = CudaTensor.owned(owner, host.shape(), precision, mem, CudaTensor.Kind.WEIGHT);
        cache.put(key, w);
        return w;
    }

    /** A tensor owned by the caller: valid until its close() or the backend's. */
    CudaTensor persistent(Precision dtype, boolean integer, int... shape) {
        long n = CudaTensor.numel(shape);
        DeviceMemory mem = DeviceMemory.allocate(n * dtype.bytes(), (integer ? "persistent int32 tensor " : "persistent tensor ")
                + Arrays.toString(shape));
        persistentMemory.add(mem);
        return CudaTensor.owned(owner, shape, dtype, mem, CudaTensor.Kind.PERSISTENT, integer);
    }

    void releasePersistent(DeviceMemory mem) {
        if (closed || !persistentMemory.remove(mem)) return;
        device.synchronize("free persistent tensor");
        mem.close();
    }

    /** Ends the stage: every transient tensor of the arena becomes invalid (synchronising first when it frees memory). */
    void endStage() {
        if (arena.needsSyncBeforeEndStage()) device.synchronize("endStage");
        arena.endStage();
    }

    /** Bytes of weights on the device. */
    long weightBytes() {
        long n = 0;
        for (DeviceMemory m : weightMemory) n += m.bytes();
        return n;
    }

    /** Frees the persistent tensors, the weights and the arena (after the caller synchronised). */
    void close(Closer c) {
        closed = true;
        List<DeviceMemory> persistent = new ArrayList<>(persistentMemory);
        for (int i = persistent.size() - 1; i >= 0; i--) c.run(persistent.get(i)::close);
        persistentMemory.clear();
        for (int i = weightMemory.size() - 1; i >= 0; i--) c.run(weightMemory.get(i)::close);
        weightMemory.clear();
        weights.clear();
        c.run(arena::close);
    }
}
