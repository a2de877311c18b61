package dev.autodir.backend.tensorrt;

import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.tensorrt.global.nvinfer.TensorIOMode;
import org.bytedeco.tensorrt.nvinfer.Dims64;
import org.bytedeco.tensorrt.nvinfer.ICudaEngine;
import org.bytedeco.tensorrt.nvinfer.IExecutionContext;
import org.bytedeco.tensorrt.nvinfer.IRuntime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.bytedeco.tensorrt.global.nvinfer.createInferRuntime;

/**
 * One deserialized engine and its execution context: the load / allocate / infer / close steps of the lifecycle
 * ({@link TensorRTNetwork} does the binding and owns the buffers). {@link #load} deserializes a plan the
 * {@link EngineCache} verified; {@link #allocate} creates the execution context (TensorRT allocates its activation
 * memory with it); {@link #enqueue} runs it on a stream with the addresses set by name. {@link #close} deletes the
 * context, the engine and the runtime, in that order.
 *
 * <p>Not verified: no machine this project runs on has TensorRT.
 */
final class TensorRTEngine implements AutoCloseable {
    private final TensorRTLibrary lib;
    private final String name;
    private IRuntime runtime;
    private ICudaEngine engine;
    private IExecutionContext context;

    private TensorRTEngine(TensorRTLibrary lib, String name) {
        this.lib = lib;
        this.name = name;
    }

    static TensorRTEngine load(TensorRTLibrary lib, String network, Path plan) {
        TensorRTEngine e = new TensorRTEngine(lib, network + " engine");
        boolean ok = false;
        lib.logger.takeErrors();
        try (BytePointer bytes = NativeBytes.read(plan)) {
            e.runtime = createInferRuntime(lib.logger);
            if (e.runtime == null || e.runtime.isNull()) throw new TensorRTException(e.name + ": createInferRuntime failed" + lib.logger.lastErrors());
            e.engine = e.runtime.deserializeCudaEngine(bytes, bytes.limit());
            if (e.engine == null || e.engine.isNull()) {
                throw new TensorRTException(e.name + ": TensorRT cannot deserialize " + plan + lib.logger.lastErrors());
            }
            ok = true;
            return e;
        } finally {
            if (!ok) e.close();
        }
    }

    /** The engine's I/O tensors (for {@link EngineIO#check}). */
    EngineDescription describe() {
        List<EngineDescription.Tensor> out = new ArrayList<>();
        for (int i = 0; i < engine.getNbIOTensors(); i++) {
            String t = engine.getIOTensorName(i);
            Dims64 d = engine.getTensorShape(t);
            long[] dims = new long[d.nbDims()];
            for (int k = 0; k < dims.length; k++) dims[k] = d.d(k);
            boolean input = engine.getTensorIOMode(t).intern() == TensorIOMode.kINPUT;
            out.add(new EngineDescription.Tensor(t, input, engine.getTensorDataType(t).intern().name(), dims));
        }
        return new EngineDescription(out);
    }

    void allocate() {
        if (context != null) return;
        context = engine.createExecutionContext();
        if (context == null || context.isNull()) {
            context = null;
            throw new TensorRTException(name + ": createExecutionContext failed (out of device memory?)" + lib.logger.lastErrors());
        }
    }

    /** For a profiled input: the shape this context runs (before the first enqueue). */
    void setInputShape(String tensor, int[] shape) {
        Dims64 d = new Dims64();
        d.nbDims(shape.length);
        for (int i = 0; i < shape.length; i++) d.d(i, shape[i]);
        if (!context.setInputShape(tensor, d)) throw new TensorRTException(name + ": input " + tensor + " refuses shape " + java.util.Arrays.toString(shape) + lib.logger.lastErrors());
    }

    void setAddress(String tensor, Pointer address) {
        if (!context.setTensorAddress(tensor, address)) throw new TensorRTException(name + ": setTensorAddress(" + tensor + ") failed" + lib.logger.lastErrors());
    }

    /** Queues one inference on {@code stream} (asynchronous). */
    void enqueue(CUstream_st stream) {
        if (!context.enqueueV3(stream)) throw new TensorRTException(name + ": enqueueV3 failed" + lib.logger.lastErrors());
    }

    /** Device memory the context uses for activations (the engine's own weights not included). */
    long activationBytes() { return engine.getDeviceMemorySizeV2(); }

    @Override public void close() {
        NativeRelease.delete(context, NativeRelease.INOCOPY_SLOT);
        NativeRelease.delete(engine, NativeRelease.INOCOPY_SLOT);
        NativeRelease.delete(runtime, NativeRelease.INOCOPY_SLOT);
        context = null;
        engine = null;
        runtime = null;
    }
}
