package dev.autodir.backend.cuda;

import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.record.Graph;
import dev.autodir.golden.GoldenConfig;
import dev.autodir.golden.GoldenSet;
import dev.autodir.io.WeightStore;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.Networks;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The planning half of compiled cuda networks, run without a GPU on every network of golden set A's tiny model, with
 * the cpu backend standing in for the device (its results are heap arrays: an array is an allocation, a reshape
 * shares its base's):
 * <ul>
 *   <li>{@link CallTracker} reports one operation per node of the network's recorded graph, in its order;</li>
 *   <li>{@link AllocationTrace}'s lifetimes are the recorded graph's liveness ({@link Graph#lastUses()}), aliases
 *       merged;</li>
 *   <li>the lifetimes are sufficient: a second run that overwrites every array with NaN (ids with -1) right after the
 *       operation the trace names as its last reader gives bit-identical outputs, so no operation reads memory the
 *       plan would already have reused;</li>
 *   <li>the {@link MemoryPlan} of the trace is valid and smaller than the allocations' sum.</li>
 * </ul>
 * What needs the device: the cuda backend's own allocations (operations' scratch, casts), the capture and the replay
 * ({@code benchmarks/gpu-check.sh} runs {@code CompiledNetworkCheck}).
 */
class NetworkTraceTest {
    private static final Path SET_A = Path.of("..", "shared", "golden", "A");
    private static AutoDIRModels models;
    private static CpuOps ops;

    @BeforeAll
    static void load() {
        assumeTrue(Files.isDirectory(SET_A), "golden set A not found at " + SET_A.toAbsolutePath());
        GoldenSet set = GoldenSet.open(SET_A);
        models = AutoDIRModels.load(set.weightsFile(), GoldenConfig.yaml(set));
        ops = new CpuOps(2, true);
    }

    @AfterAll
    static void close() {
        if (ops != null) ops.close();
        if (models != null) models.close();
    }

    static List<String> networks() { return Networks.NAMES; }

    private static Network network(String name) {
        return Networks.forExport(name, models, 2 * models.sizeMultiple());
    }

    /** Random inputs of the network's specs: ids inside the vocabulary, masks with padding, small floats. */
    private static Map<String, Tensor> inputs(Network net, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int vocab = models.config().clipText().vocabSize();
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (TensorSpec s : net.inputs()) {
            int n = (int) s.numel();
            int[] shape = s.shape();
            switch (s.name()) {
                case "input_ids" -> {
                    int[] ids = new int[n];
                    for (int i = 0; i < n; i++) ids[i] = r.nextInt(vocab);
                    in.put(s.name(), new IntTensor(ids, shape));
                }
                case "attention_mask" -> {
                    int[] m = new int[n];
                    int t = shape[1];
                    for (int b = 0; b < shape[0]; b++) for (int j = 0; j < t; j++) m[b * t + j] = j < t - b % 3 ? 1 : 0;
                    in.put(s.name(), new IntTensor(m, shape));
                }
                case "class_bias" -> {
                    float[] bias = new float[n];
                    bias[n - 1] = Float.NEGATIVE_INFINITY;   // a class already removed
                    in.put(s.name(), new FloatTensor(bias, shape));
                }
                case "timesteps" -> in.put(s.name(), new FloatTensor(filled(n, 412.5f), shape));
                case "scm_weight" -> in.put(s.name(), new FloatTensor(filled(n, 1f), shape));
                default -> {
                    float[] v = new float[n];
                    for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * 0.5);
                    in.put(s.name(), new FloatTensor(v, shape));
                }
            }
        }
        return in;
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    /** The heap array behind a cpu tensor, or null for inputs and weights (not transient memory). */
    private static Object key(Tensor t, Map<Object, Boolean> inputs) {
        Object data = t instanceof FloatTensor f ? f.data() : t instanceof IntTensor i ? i.data() : null;
        return data == null || inputs.containsKey(data) ? null : data;
    }

    private static Map<Object, Boolean> inputArrays(Map<String, Tensor> in) {
        Map<Object, Boolean> m = new IdentityHashMap<>();
        for (Tensor t : in.values()) m.put(t instanceof FloatTensor f ? f.data() : ((IntTensor) t).data(), Boolean.TRUE);
        return m;
    }

    private static long bytes(Tensor t) {
        long n = 4L * dev.autodir.backend.Shapes.numel(t.shape());
        return ScratchArena.roundUp(Math.max(n, 1), ScratchArena.ALIGNMENT);
    }

    /** An AllocationTrace over the cpu backend that also keeps every operation's result. */
    private static final class Traced implements CallTracker.Listener {
        final AllocationTrace trace;
        final List<Tensor> results = new ArrayList<>();

        Traced(Map<Object, Boolean> inputs) { trace = new AllocationTrace(t -> key(t, inputs), NetworkTraceTest::bytes); }

        @Override public void beginCall(String op, List<Tensor> in) { trace.beginCall(op, in); }

        @Override public void endCall(Tensor result) {
            trace.endCall(result);
            results.add(result);
        }

        @Override public Tensor constant(String method, Tensor host) { return null; }
    }

    /** Overwrites every array right after the operation the first run's trace names as its last reader. */
    private static final class Poisoner implements CallTracker.Listener {
        private final List<MemoryPlan.Request> lifetimes;
        private final Map<Object, Boolean> inputs;
        private final Map<Object, Integer> order = new IdentityHashMap<>();
        private final List<Object> arrays = new ArrayList<>();
        private int call = -1;
        int poisoned;

        Poisoner(List<MemoryPlan.Request> lifetimes, Map<Object, Boolean> inputs) {
            this.lifetimes = lifetimes;
            this.inputs = inputs;
        }

        @Override public void beginCall(String op, List<Tensor> in) { call++; }

        @Override public void endCall(Tensor result) {
            Object k = key(result, inputs);
            if (k != null && !order.containsKey(k)) {
                order.put(k, arrays.size());
                arrays.add(k);
            }
            for (int i = 0; i < arrays.size(); i++) {
                if (lifetimes.get(i).last() != call) continue;
                Object a = arrays.get(i);
                if (a instanceof float[] f) Arrays.fill(f, Float.NaN);
                else Arrays.fill((int[]) a, -1);
                poisoned++;
            }
        }

        @Override public Tensor constant(String method, Tensor host) { return null; }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("networks")
    void theTraceFollowsTheRecordedGraphAndItsLifetimesSuffice(String name) {
        Network net = network(name);
        Map<String, Tensor> in = inputs(net, 11);
        Map<Object, Boolean> inputs = inputArrays(in);
        Traced traced = new Traced(inputs);
        Map<String, Tensor> clean = net.forward(CallTracker.wrap(ops, traced, name), in);
        AllocationTrace trace = traced.trace;
        trace.finish(clean.values());

        Graph g = Graph.record(net);
        assertEquals(g.nodes().stream().map(Graph.Node::op).toList(), trace.ops(), name + ": operations against the recorded graph");

        int[] last = g.lastUses();
        Map<Object, Integer> expected = new IdentityHashMap<>();
        for (int i = 0; i < traced.results.size(); i++) {
            Object k = key(traced.results.get(i), inputs);
            // a value lives from its operation to its last reader (-1 in the graph: nobody reads it)
            if (k != null) expected.merge(k, Math.max(i, last[g.nodes().get(i).output().id()]), Math::max);
        }
        for (int i = 0; i < traced.results.size(); i++) {
            Tensor t = traced.results.get(i);
            Object k = key(t, inputs);
            if (k == null) continue;
            assertEquals(expected.get(k), trace.lastUse(t), name + ": last use of operation " + i + " (" + trace.ops().get(i) + ")");
        }

        MemoryPlan plan = MemoryPlan.of(trace.requests());
        plan.verify();
        assertTrue(plan.bytes() < plan.unplannedBytes() * 0.8, name + ": little reuse: " + plan.describe());

        Poisoner poison = new Poisoner(trace.requests(), inputs);
        Map<String, Tensor> again = net.forward(CallTracker.wrap(ops, poison, name), in);
        assertTrue(poison.poisoned > trace.requests().size() / 2, name + ": only " + poison.poisoned + " arrays poisoned");
        for (String out : clean.keySet()) {
            Tensor a = clean.get(out), b = again.get(out);
            if (a instanceof IntTensor ia) assertArrayEquals(ia.data(), ((IntTensor) b).data(), name + " " + out);
            else assertArrayEquals(ops.download(a).data(), ops.download(b).data(), name + " " + out + " after poisoning dead arrays");
        }
    }

    private static Network forwardOf(String name, java.util.function.BiFunction<Ops, Map<String, Tensor>, Map<String, Tensor>> body) {
        return new Network() {
            @Override public String name() { return name; }

            @Override public List<TensorSpec> inputs() { return List.of(TensorSpec.float32("x", 2, 3)); }

            @Override public WeightStore weights() { return models.store(); }

            @Override public Map<String, Tensor> forward(Ops o, Map<String, Tensor> in) { return body.apply(o, in); }
        };
    }

    @Test
    void aForwardFunctionMayNotReadBackKeepOrEndTheStage() {
        Map<String, Tensor> in = Map.of("x", new FloatTensor(filled(6, 1f), 2, 3));
        Traced l = new Traced(inputArrays(in));
        for (String what : new String[] {"download", "keep", "endStage"}) {
            Network bad = forwardOf("bad", (o, x) -> {
                Tensor y = o.scale(x.get("x"), 2f);
                switch (what) {
                    case "download" -> o.download(y);
                    case "keep" -> o.keep(y);
                    default -> o.endStage();
                }
                return Map.of("y", y);
            });
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> bad.forward(CallTracker.wrap(ops, l, "bad"), in), what);
            assertTrue(e.getMessage().contains("bad") && e.getMessage().contains(what), e.getMessage());
        }
    }

    @Test
    void uploadsGoToTheListenerAndAllocationsOutsideOperationsAreRefused() {
        FloatTensor kept = new FloatTensor(filled(3, 5f), 3);
        List<String> seen = new ArrayList<>();
        CallTracker.Listener l = new CallTracker.Listener() {
            @Override public void beginCall(String op, List<Tensor> inputs) { seen.add(op + " " + inputs.size()); }

            @Override public void endCall(Tensor result) { }

            @Override public Tensor constant(String method, Tensor host) {
                seen.add(method);
                return kept;
            }
        };
        Network net = forwardOf("c", (o, x) -> Map.of("y", o.add(x.get("x"), o.upload(new FloatTensor(filled(3, 1f), 3)))));
        Map<String, Tensor> in = Map.of("x", new FloatTensor(filled(6, 1f), 2, 3));
        Tensor y = net.forward(CallTracker.wrap(ops, l, "c"), in).get("y");
        assertEquals(List.of("upload", "add 2"), seen);
        assertArrayEquals(filled(6, 6f), ops.download(y).data(), "the listener's tensor was used");

        AllocationTrace t = new AllocationTrace(x -> x, null);
        assertThrows(IllegalStateException.class, () -> t.allocated(new Object(), 256), "an allocation outside an operation");
        t.beginCall("scale", List.of());
        t.allocated("a", 256);
        assertThrows(IllegalStateException.class, () -> t.endCall(new FloatTensor(new float[1], 1)), "a result nobody allocated");
        assertSame(null, new AllocationTrace(x -> null, null).requests().isEmpty() ? null : "x");
    }
}
