package dev.autodir.backend.tensorrt;

import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.DataType;
import dev.autodir.backend.Network;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.cuda.CudaGraph;
import dev.autodir.backend.cuda.CudaInterop;
import dev.autodir.backend.cuda.CudaOps;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A network compiled by the tensorrt backend: one engine with fixed device buffers for its inputs and outputs.
 *
 * <p>Lifecycle: {@link #open} loads the verified plan and checks the engine's I/O names, dtypes and shapes against
 * the network's specs (a mismatch throws naming it), creates the execution context and allocates the output buffers
 * and float input buffers on the cuda backend (persistent tensors: their addresses are bound once, by name).
 * {@link #run} copies the caller's inputs into those buffers on the backend's stream (int32 ones byte for byte; their
 * buffers are made at the first run) and runs the engine: the first run captures {@code enqueueV3} as a CUDA graph
 * (TensorRT's warm-up enqueue is {@link CudaOps#capture}'s warm-up run, so the first run's outputs come from it),
 * later runs replay that graph. The input copies stay outside the graph, so it needs no fixed caller addresses.
 * When the capture fails (an engine TensorRT cannot capture) the network runs {@code enqueueV3} each time and
 * {@link #describe} says so. Outputs are the output buffers: valid until the next run or {@link #close}.
 *
 * <p>Not verified: no machine this project runs on has TensorRT.
 */
final class TensorRTNetwork implements CompiledNetwork {
    private final CudaOps cuda;
    private final Network network;
    private final EngineKey key;
    private final Path plan;
    private final TensorRTEngine engine;
    private final Map<String, Tensor> inputBuffers = new LinkedHashMap<>();
    private final Map<String, Tensor> outputBuffers = new LinkedHashMap<>();
    private final boolean tryGraph;
    private CudaGraph graph;
    private String mode = "not run yet";
    private boolean closed;

    private TensorRTNetwork(CudaOps cuda, Network network, EngineKey key, Path plan, TensorRTEngine engine, boolean tryGraph) {
        this.cuda = cuda;
        this.network = network;
        this.key = key;
        this.plan = plan;
        this.engine = engine;
        this.tryGraph = tryGraph;
    }

    static TensorRTNetwork open(TensorRTLibrary lib, CudaOps cuda, Network network, EngineKey key, Path plan, boolean cudaGraph) {
        CudaInterop.bind(cuda);
        TensorRTEngine engine = TensorRTEngine.load(lib, network.name(), plan);
        TensorRTNetwork n = new TensorRTNetwork(cuda, network, key, plan, engine, cudaGraph);
        boolean ok = false;
        try {
            EngineIO.check(network.name(), key.inputs(), key.outputs(), key.profile(), engine.describe());
            for (TensorSpec s : key.outputs()) {
                if (s.type() != DataType.FLOAT32) {
                    throw new IllegalStateException(network.name() + " engine: output " + s.describe() + ": the tensorrt backend binds float32 outputs only");
                }
            }
            engine.allocate();
            if (key.profile() != null) {
                for (TensorSpec s : key.inputs()) if (key.profile().ranges().containsKey(s.name())) engine.setInputShape(s.name(), s.shape());
            }
            for (TensorSpec s : key.outputs()) n.bind(n.outputBuffers, s.name(), cuda.persistent(Precision.FP32, s.shape()));
            for (TensorSpec s : key.inputs()) {
                if (s.type() == DataType.FLOAT32) n.bind(n.inputBuffers, s.name(), cuda.persistent(Precision.FP32, s.shape()));
            }
            ok = true;
            return n;
        } finally {
            if (!ok) n.close();
        }
    }

    private void bind(Map<String, Tensor> buffers, String name, Tensor t) {
        buffers.put(name, t);
        engine.setAddress(name, CudaInterop.pointer(cuda, t, "tensorrt bind " + name));
    }

    @Override public Network network() { return network; }

    @Override public List<TensorSpec> inputs() { return key.inputs(); }

    @Override public List<TensorSpec> outputs() { return key.outputs(); }

    @Override public String describe() {
        return "tensorrt " + key.precision().lower() + " engine " + plan.getFileName() + " (" + mode + ")";
    }

    @Override public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        if (closed) throw new IllegalStateException(network.name() + ": the compiled tensorrt network is closed");
        CompiledNetwork.checkInputs(network, inputs);
        CudaInterop.bind(cuda);
        for (TensorSpec s : key.inputs()) {
            Tensor src = inputs.get(s.name());
            Tensor dst = inputBuffers.get(s.name());
            if (s.type() == DataType.INT32) {
                if (dst == null) bind(inputBuffers, s.name(), cuda.keep(src));   // the first run: a persistent int32 copy
                else CudaInterop.copyRaw(cuda, dst, src, "tensorrt input " + s.name());
            } else {
                cuda.copyInto(dst, src);   // converts an fp16 tensor
            }
        }
        if (graph != null) {
            graph.replay();
        } else if (tryGraph && mode.equals("not run yet")) {
            capture();
        } else {
            engine.enqueue(CudaInterop.stream(cuda));
        }
        return Collections.unmodifiableMap(new LinkedHashMap<>(outputBuffers));
    }

    /** The first run: enqueue (the warm-up) and capture the enqueue as a CUDA graph; on failure, plain enqueues. */
    private void capture() {
        Tensor first = outputBuffers.values().iterator().next();
        boolean[] warmedUp = {false};
        try {
            graph = cuda.capture(() -> {
                engine.enqueue(CudaInterop.stream(cuda));
                warmedUp[0] = true;
                return first;
            });
            mode = "CUDA graph of enqueueV3";
        } catch (RuntimeException e) {
            if (!warmedUp[0]) throw e;   // the warm-up enqueue itself failed: a real error, not a capture problem
            fallBack(e);
        }
    }

    private void fallBack(RuntimeException e) {
        graph = null;
        mode = "enqueueV3 per run: CUDA graph capture failed: " + e.getMessage();
        System.err.println("autodir: tensorrt " + network.name() + ": " + mode);
        engine.enqueue(CudaInterop.stream(cuda));
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        try {
            if (graph != null) graph.close();
        } finally {
            try {
                cuda.synchronize();
            } finally {
                engine.close();
                for (Tensor t : inputBuffers.values()) t.close();
                for (Tensor t : outputBuffers.values()) t.close();
            }
        }
    }
}
