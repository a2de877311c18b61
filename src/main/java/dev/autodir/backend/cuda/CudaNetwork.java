package dev.autodir.backend.cuda;

import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.Network;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.record.Graph;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A network compiled by the cuda backend ({@link CudaOps#compile} with the graphs feature): one CUDA graph for its
 * input shapes, replayed by every {@link #run} with one launch.
 *
 * <h2>First run</h2>
 * The network runs three times on the caller's inputs (copied into the network's own input buffers first):
 * <ol>
 *   <li>a warm-up in the shared scratch arena (kernels load, cuBLASLt and cuDNN make their plans, convolution shapes
 *       take their tuning decisions, workspaces grow), discarded; an error here is the network's own and is thrown;</li>
 *   <li>a planning run, also in the arena, that records every transient allocation and the operations reading it
 *       ({@link CallTracker}, {@link AllocationTrace}); a {@link MemoryPlan} then places them in one private block
 *       of device memory, reusing the memory of allocations no longer read;</li>
 *   <li>the capture: the same run under stream capture with its allocations taken from the plan
 *       ({@link PlannedMemory}), instantiated as a graph.</li>
 * </ol>
 * When planning or capture fails (an operation that cannot be captured, a run that allocates differently), the network
 * runs eagerly from then on, with a warning naming the reason ({@link #describe()} repeats it).
 *
 * <h2>Memory and lifetimes</h2>
 * Inputs are copied into persistent input buffers on the device (device-to-device; a float input of the other
 * precision is converted) and the graph is launched; no host transfer happens in {@link #run}. The graph reads and
 * writes only its input buffers, constants it uploaded at the first run, the weights and its private block: none of
 * them moves or is freed while the network lives (the shared arena may grow and stages may end), and a cuDNN
 * workspace that grows later keeps the buffer the graph holds ({@link Workspace}). The outputs are views of the block
 * (or of the input buffers) valid until the next run or {@link #close()}, across {@code endStage()}; using one later
 * throws.
 */
final class CudaNetwork implements CompiledNetwork {
    private static final System.Logger LOG = System.getLogger(CudaNetwork.class.getName());

    private enum State { NEW, GRAPH, EAGER }

    private record Slot(String name, int[] shape, Precision dtype, boolean integer, long address) { }

    private final CudaOps ops;
    private final Network network;
    private List<TensorSpec> outputSpecs;
    private State state = State.NEW;
    private String eagerReason;
    private final Map<String, CudaTensor> inputBuffers = new LinkedHashMap<>();
    private final List<CudaTensor> constants = new ArrayList<>();
    private final List<Tensor> constantData = new ArrayList<>();
    private int constantCalls;
    private DeviceMemory block;
    private MemoryPlan plan;
    private int operations;
    private GraphCapture.Recorded<Map<String, Tensor>> graph;
    private final List<Slot> slots = new ArrayList<>();
    private Lifetime outputs;
    private long runs;
    private boolean closed;

    CudaNetwork(CudaOps ops, Network network) {
        this.ops = ops;
        this.network = network;
    }

    @Override public Network network() { return network; }

    @Override public List<TensorSpec> outputs() {
        if (outputSpecs == null) outputSpecs = Graph.record(network).outputSpecs();
        return outputSpecs;
    }

    @Override
    public String describe() {
        String p = "cuda " + ops.precision();
        return switch (state) {
            case NEW -> p + " (CUDA graph, captured at the first run)";
            case GRAPH -> p + " (CUDA graph of " + operations + " operations; transient memory: " + plan.describe() + ")";
            case EAGER -> p + " (eager: the CUDA graph capture failed: " + eagerReason + ")";
        };
    }

    /** Whether the network runs as a captured graph (false before the first run and after a failed capture). */
    boolean captured() { return state == State.GRAPH; }

    /** The memory plan of the captured graph (null before). */
    MemoryPlan plan() { return plan; }

    /** Launches so far of the captured graph. */
    long runs() { return runs; }

    @Override
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        if (closed) throw new IllegalStateException(network.name() + ": the compiled network is closed");
        ops.enter(network.name());
        CompiledNetwork.checkInputs(network, inputs);
        if (state == State.NEW) build(inputs);
        if (state == State.EAGER) return network.forward(ops, inputs);
        fill(inputs);
        if (outputs != null) outputs.end();
        outputs = new Lifetime(network.name() + " run " + (runs + 1));
        graph.launch(ops.device());
        runs++;
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Slot s : slots) out.put(s.name(), CudaTensor.ofNetwork(ops, s.shape(), s.dtype(), s.integer(), s.address(), outputs));
        return out;
    }

    // ---- the first run -----------------------------------------------------------------------------------

    private void build(Map<String, Tensor> inputs) {
        if (ops.capturing()) throw new IllegalStateException(network.name() + ": first run inside a CUDA graph capture");
        if (inputBuffers.isEmpty()) {
            // the buffers take the dtypes of the first call's tensors (FP16 or float32 floats, int32)
            for (TensorSpec s : network.inputs()) {
                CudaTensor src = ops.tAny(inputs.get(s.name()), network.name(), "input " + s.name());
                inputBuffers.put(s.name(), ops.memory().persistent(src.dtype(), src.isInteger(), s.shape()));
            }
        }
        fill(inputs);
        Map<String, Tensor> in = Collections.unmodifiableMap(new LinkedHashMap<>(inputBuffers));
        ScratchArena arena = ops.arena();
        ops.synchronize();
        long mark = arena.top();
        discardedRun(in, null, mark, "warm-up");
        try {
            AllocationTrace trace = new AllocationTrace(t -> t instanceof CudaTensor c ? c.transientAllocation() : null, null);
            discardedRun(in, trace, mark, "planning");
            plan = MemoryPlan.of(trace.requests());
            operations = trace.calls();
            block = DeviceMemory.allocate(Math.max(plan.bytes(), ScratchArena.ALIGNMENT), network.name() + " planned memory");
            capture(in);
            state = State.GRAPH;
            LOG.log(System.Logger.Level.INFO, "cuda: " + network.describe() + " captured as a CUDA graph of " + operations
                    + " operations; transient memory: " + plan.describe());
        } catch (RuntimeException e) {
            releaseGraph();
            state = State.EAGER;
            eagerReason = e.toString();
            LOG.log(System.Logger.Level.WARNING, "cuda: " + network.name() + " runs eagerly: its CUDA graph capture failed: " + e);
        }
    }

    /** One run of the forward function in the shared arena, whose results are dropped (the arena goes back to mark). */
    private void discardedRun(Map<String, Tensor> in, AllocationTrace trace, long mark, String what) {
        ScratchArena arena = ops.arena();
        Lifetime run = new Lifetime(network.name() + " " + what + " run");
        Lifetime stage = arena.switchLifetime(run);
        TransientMemory previous = trace == null ? null : ops.memory().route(trace.memory(arena));
        constantCalls = 0;
        try {
            Map<String, Tensor> out = network.forward(CallTracker.wrap(ops, listener(trace), network.name()), in);
            if (trace != null) trace.finish(out.values());
        } finally {
            if (trace != null) ops.memory().route(previous);
            arena.switchLifetime(stage);
            run.end();
            try {
                ops.device().synchronize(network.name() + " " + what);
            } finally {
                arena.rewind(mark);
            }
        }
    }

    private void capture(Map<String, Tensor> in) {
        Lifetime capturing = new Lifetime(network.name() + " capture");
        PlannedMemory planned = new PlannedMemory(block.address(), plan, capturing, network.name());
        int[] calls = {0};
        CallTracker.Listener counter = new CallTracker.Listener() {
            @Override public void beginCall(String op, List<Tensor> inputs) { calls[0]++; }

            @Override public void endCall(Tensor result) { }

            @Override public Tensor constant(String method, Tensor host) { return CudaNetwork.this.constant(method, host); }
        };
        TransientMemory previous = ops.memory().route(planned);
        constantCalls = 0;
        try {
            graph = ops.graphs().record(() -> network.forward(CallTracker.wrap(ops, counter, network.name()), in));
        } finally {
            ops.memory().route(previous);
        }
        try {
            planned.checkComplete();
            if (calls[0] != operations) {
                throw new IllegalStateException(network.name() + ": the captured run made " + calls[0] + " operations, the planning run " + operations);
            }
            for (Map.Entry<String, Tensor> e : graph.value.entrySet()) {
                CudaTensor c = ops.tAny(e.getValue(), network.name(), "output " + e.getKey());
                slots.add(new Slot(e.getKey(), c.shape(), c.dtype(), c.isInteger(), c.address(network.name())));
            }
        } finally {
            capturing.end();   // the capture's tensors are gone; the outputs are remade over the same memory at each run
        }
    }

    /** The trace (or nothing) for the operations, and this network's constants for its uploads. */
    private CallTracker.Listener listener(AllocationTrace trace) {
        return new CallTracker.Listener() {
            @Override public void beginCall(String op, List<Tensor> inputs) { if (trace != null) trace.beginCall(op, inputs); }

            @Override public void endCall(Tensor result) { if (trace != null) trace.endCall(result); }

            @Override public Tensor constant(String method, Tensor host) { return CudaNetwork.this.constant(method, host); }
        };
    }

    /**
     * Host data the forward function uploads: a persistent device copy made at the first (warm-up) run and handed out
     * again at every later run of the forward function, which must upload the same values (a constant).
     */
    private Tensor constant(String method, Tensor host) {
        int k = constantCalls++;
        if (k < constants.size()) {
            if (!sameData(constantData.get(k), host)) {
                throw new IllegalStateException(network.name() + ": upload " + k + " of the forward function differs between runs "
                        + "(a network may upload constants only; per-call data is an input)");
            }
            return constants.get(k);
        }
        if (ops.capturing()) throw CudaOps.captureRefuses(network.name() + ": a new upload");
        CudaTensor c;
        if (host instanceof IntTensor it) {
            c = ops.memory().persistent(Precision.FP32, true, it.shape());
            ops.device().copyIntsFromHost(it.data(), c.address(method), method);
            constantData.add(it.copy());
        } else if (host instanceof FloatTensor f) {
            Precision p = method.equals("uploadFloat32") ? Precision.FP32 : ops.precision();
            c = ops.memory().persistent(p, false, f.shape());
            ops.device().copyFromHost(f.data(), c.address(method), p, method);
            constantData.add(f.copy());
        } else {
            throw new IllegalArgumentException(network.name() + ": " + method + " of " + host + ", not host data");
        }
        constants.add(c);
        return c;
    }

    private static boolean sameData(Tensor a, Tensor b) {
        if (a instanceof IntTensor x && b instanceof IntTensor y) return Arrays.equals(x.shape(), y.shape()) && Arrays.equals(x.data(), y.data());
        if (a instanceof FloatTensor x && b instanceof FloatTensor y) return Arrays.equals(x.shape(), y.shape()) && Arrays.equals(x.data(), y.data());
        return false;
    }

    // ---- every run ---------------------------------------------------------------------------------------

    /** The caller's tensors into the input buffers, on the device (the float type converted where it differs). */
    private void fill(Map<String, Tensor> inputs) {
        for (TensorSpec s : network.inputs()) {
            String what = "input " + s.name();
            CudaTensor src = ops.tAny(inputs.get(s.name()), network.name(), what), dst = inputBuffers.get(s.name());
            if (src.dtype() == dst.dtype() && src.isInteger() == dst.isInteger()) {
                ops.device().copyOnDevice(dst.address(what), src.address(what), dst.bytes());
            } else {
                ops.device().convert(src.address(what), src.dtype(), dst.address(what), dst.dtype(), dst.numel());
            }
        }
    }

    private void releaseGraph() {
        Closer c = new Closer();
        if (graph != null || block != null) c.run(() -> ops.device().synchronize(network.name() + " close"));
        if (graph != null) c.run(graph::close);
        graph = null;
        if (block != null) c.run(block::close);
        block = null;
        slots.clear();
        c.rethrow();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (outputs != null) outputs.end();
        Closer c = new Closer();
        c.run(this::releaseGraph);
        for (CudaTensor t : inputBuffers.values()) c.run(t::close);
        inputBuffers.clear();
        for (CudaTensor t : constants) c.run(t::close);
        constants.clear();
        c.run(() -> ops.networkClosed(this));
        c.rethrow();
    }

    @Override public String toString() { return "CudaNetwork[" + network.describe() + ", " + state + "]"; }
}
