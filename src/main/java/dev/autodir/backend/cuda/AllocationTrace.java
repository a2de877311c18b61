package dev.autodir.backend.cuda;

import dev.autodir.backend.Tensor;

import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * The transient allocations of one run of a network's forward function and when each is read: the input of a
 * {@link MemoryPlan}. Operations are numbered in call order ({@link CallTracker} reports them); an allocation made while
 * operation i runs lives from i to the last operation that reads a tensor backed by it (views share their base's
 * allocation), and past the end when it backs a network output. An allocation no later operation reads (an
 * operation's own scratch, a result nobody uses) lives over i alone.
 */
final class AllocationTrace implements CallTracker.Listener {
    private final Function<Tensor, Object> keyOf;
    private final ToLongFunction<Tensor> unseenResultBytes;
    private final Map<Object, Integer> index = new IdentityHashMap<>();
    private final List<Long> bytes = new ArrayList<>();
    private final List<Integer> first = new ArrayList<>();
    private final List<Integer> last = new ArrayList<>();
    private final List<String> ops = new ArrayList<>();
    private int call = -1;
    private boolean inCall;
    private boolean finished;

    /**
     * @param keyOf             the allocation backing a tensor (identity matters), or null for memory that is not
     *                          transient (inputs, weights, constants)
     * @param unseenResultBytes for a result whose allocation was not reported by {@link #allocated}: its size (a backend
     *                          without allocation hooks, such as the cpu backend in tests); null makes that an error
     */
    AllocationTrace(Function<Tensor, Object> keyOf, ToLongFunction<Tensor> unseenResultBytes) {
        this.keyOf = keyOf;
        this.unseenResultBytes = unseenResultBytes;
    }

    /** A TransientMemory that reports every allocation of {@code inner} to this trace. */
    TransientMemory memory(TransientMemory inner) {
        return new TransientMemory() {
            @Override public ScratchArena.Allocation allocate(long n) {
                ScratchArena.Allocation a = inner.allocate(n);
                allocated(a, a.bytes());
                return a;
            }

            // an early release only shortens a lifetime the plan already ends with the operation
            @Override public boolean release(ScratchArena.Allocation a) { return inner.release(a); }
        };
    }

    @Override public void beginCall(String op, List<Tensor> inputs) {
        if (finished) throw new IllegalStateException("the trace has finished");
        if (inCall) throw new IllegalStateException(op + " called while " + ops.get(call) + " runs");
        call++;
        inCall = true;
        ops.add(op);
        for (Tensor t : inputs) use(t);
    }

    @Override public void endCall(Tensor result) {
        inCall = false;
        if (result == null) return;
        Object key = keyOf.apply(result);
        if (key == null) return;
        if (!index.containsKey(key)) {
            if (unseenResultBytes == null) {
                throw new IllegalStateException(ops.get(call) + " returned " + result + ", whose memory was not allocated by an operation of this run");
            }
            add(key, unseenResultBytes.applyAsLong(result));
        }
        use(result);
    }

    @Override public Tensor constant(String method, Tensor host) { return null; }

    /** A transient allocation of {@code n} bytes made by the operation running now. */
    void allocated(Object key, long n) {
        if (!inCall) throw new IllegalStateException("a transient allocation outside any operation (after " + call + " operations)");
        if (index.containsKey(key)) throw new IllegalStateException("allocation reported twice: " + key);
        add(key, n);
    }

    private void add(Object key, long n) {
        index.put(key, bytes.size());
        bytes.add(n);
        first.add(call);
        last.add(call);
    }

    private void use(Tensor t) {
        Object key = t == null ? null : keyOf.apply(t);
        if (key == null) return;
        Integer i = index.get(key);
        if (i == null) {
            throw new IllegalStateException(ops.get(call) + " reads " + t + ", which is neither an input, a weight nor the result of an earlier operation");
        }
        last.set(i, Math.max(last.get(i), call));
    }

    /** The network returned {@code outputs}: their memory lives past the last operation. */
    void finish(Collection<Tensor> outputs) {
        if (inCall) throw new IllegalStateException("finish() while " + ops.get(call) + " runs");
        finished = true;
        for (Tensor t : outputs) {
            Object key = keyOf.apply(t);
            Integer i = key == null ? null : index.get(key);
            if (i != null) last.set(i, calls());
        }
    }

    /** Operations run so far. */
    int calls() { return call + 1; }

    /** The operation names in call order. */
    List<String> ops() { return List.copyOf(ops); }

    /** The last operation that reads the allocation behind {@code t} ({@link #calls()} for outputs), or -1 if untraced. */
    int lastUse(Tensor t) {
        Object key = keyOf.apply(t);
        Integer i = key == null ? null : index.get(key);
        return i == null ? -1 : last.get(i);
    }

    /** The allocations in the order they were made. */
    List<MemoryPlan.Request> requests() {
        List<MemoryPlan.Request> rs = new ArrayList<>(bytes.size());
        for (int i = 0; i < bytes.size(); i++) rs.add(new MemoryPlan.Request(bytes.get(i), first.get(i), last.get(i)));
        return rs;
    }
}
