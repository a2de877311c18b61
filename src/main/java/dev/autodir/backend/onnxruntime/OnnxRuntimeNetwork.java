package dev.autodir.backend.onnxruntime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.DataType;
import dev.autodir.backend.Network;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One network as an ONNX Runtime session over its export. {@link #run} copies the host inputs (the cpu backend's
 * tensors) into ONNX Runtime tensors, runs the session and copies the outputs back into host tensors, which stay valid
 * as long as the caller holds them. Every native object is owned: the run's tensors and result are closed before it
 * returns, the session by {@link #close()}.
 */
final class OnnxRuntimeNetwork implements CompiledNetwork {
    private final OnnxRuntimeOps ops;
    private final Network network;
    private final List<TensorSpec> outputs;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final String description;
    private boolean closed;

    /** Opens the session; {@code options} is closed here whatever happens. */
    OnnxRuntimeNetwork(OnnxRuntimeOps ops, Network network, List<TensorSpec> outputs, ExportCache.Entry export, OrtEnvironment env,
                       OrtSession.SessionOptions options) {
        this.ops = ops;
        this.network = network;
        this.outputs = List.copyOf(outputs);
        this.env = env;
        try (options) {
            this.session = env.createSession(export.model().model().toString(), options);
        } catch (OrtException e) {
            throw new IllegalStateException("onnxruntime: cannot load " + export.model().model() + ": " + e.getMessage(), e);
        }
        this.description = "onnxruntime " + env.getVersion() + " (" + ops.provider() + " execution provider; export "
                + (export.reused() ? "reused from " : "written to ") + export.model().model().getParent() + ")";
    }

    @Override public Network network() { return network; }

    @Override public List<TensorSpec> outputs() { return outputs; }

    @Override public String describe() { return description; }

    @Override public synchronized Map<String, Tensor> run(Map<String, Tensor> inputs) {
        if (closed) throw new IllegalStateException(network.name() + ": the onnxruntime session is closed");
        CompiledNetwork.checkInputs(network, inputs);
        List<OnnxTensor> made = new ArrayList<>();
        try {
            Map<String, OnnxTensor> feed = new LinkedHashMap<>();
            for (TensorSpec s : network.inputs()) {
                OnnxTensor t = tensor(s, inputs.get(s.name()));
                made.add(t);
                feed.put(s.name(), t);
            }
            try (OrtSession.Result result = session.run(feed)) {
                Map<String, Tensor> out = new LinkedHashMap<>();
                for (TensorSpec s : outputs) {
                    OnnxValue v = result.get(s.name()).orElseThrow(() -> new IllegalStateException(network.name() + ": no output " + s.name()));
                    out.put(s.name(), host(s, (OnnxTensor) v));
                }
                return out;
            }
        } catch (OrtException e) {
            String msg = "onnxruntime: " + network.name() + ": " + e.getMessage();
            throw e.getCode() == OrtException.OrtErrorCode.ORT_INVALID_ARGUMENT ? new IllegalArgumentException(msg, e) : new IllegalStateException(msg, e);
        } finally {
            for (int i = made.size() - 1; i >= 0; i--) made.get(i).close();
        }
    }

    private OnnxTensor tensor(TensorSpec s, Tensor t) throws OrtException {
        long[] shape = new long[s.shape().length];
        for (int i = 0; i < shape.length; i++) shape[i] = s.shape()[i];
        if (s.type() == DataType.INT32) {
            IntTensor h = t instanceof IntTensor it ? it : ops.cpu().downloadInts(t);
            return OnnxTensor.createTensor(env, IntBuffer.wrap(h.data()), shape);
        }
        FloatTensor h = t instanceof FloatTensor ft ? ft : ops.cpu().download(t);
        return OnnxTensor.createTensor(env, FloatBuffer.wrap(h.data()), shape);
    }

    private Tensor host(TensorSpec s, OnnxTensor v) {
        int n = Math.toIntExact(s.numel());
        if (s.type() == DataType.INT32) {
            int[] d = new int[n];
            v.getIntBuffer().get(d);
            return new IntTensor(d, s.shape());
        }
        float[] d = new float[n];
        v.getFloatBuffer().get(d);
        return new FloatTensor(d, s.shape());
    }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("onnxruntime: cannot close the session of " + network.name() + ": " + e.getMessage(), e);
        } finally {
            ops.closed(this);
        }
    }
}
