package dev.autodir.quant;

import dev.autodir.backend.ForwardingOps;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The quantized function computed in float32 on a host backend: every calibrated convolution and linear layer sees its
 * input quantized per tensor and its weight quantized per output channel (the value a QuantizeLinear →
 * DequantizeLinear pair passes on), with SmoothQuant applied to linear layers first (x / s, w · s per input channel).
 * This is what a QDQ graph means, so it is the reference an INT8 / FP8 engine is checked against, and on its own the
 * engine {@code cpu:int8} / {@code cpu:fp8} of {@code compare} (simulated: float32 arithmetic on quantized values, as
 * fast as the float32 backend, not faster). Its {@link #name()} is the inner backend's ("cpu"): the rules that go by
 * the backend's name (memory on the heap, tiling budgets) hold for it as for the float one; {@link #describe()} says
 * that it is quantized.
 */
public final class FakeQuantOps extends ForwardingOps {
    private final Calibration calibration;
    private final QuantFormat format;
    private final Map<Tensor, String> keys = new IdentityHashMap<>();
    private final Map<String, FloatTensor> quantizedWeights = new HashMap<>();
    private WeightStore store;

    public FakeQuantOps(Ops inner, Calibration calibration, QuantFormat format) {
        super(inner);
        this.calibration = calibration;
        this.format = format;
    }

    @Override public String describe() { return inner.describe() + ", " + format.label() + " simulated (QDQ semantics, calibration " + calibration.hash() + ")"; }

    @Override public Tensor weight(WeightStore s, String key) {
        Tensor t = inner.weight(s, key);
        keys.put(t, key);
        store = s;
        return t;
    }

    private Calibration.Layer layer(Tensor w) {
        String key = keys.get(w);
        return key == null ? null : calibration.layers().get(key);
    }

    /** The fake-quantized (and, for SmoothQuant, rescaled) weight of layer {@code key}, made once. */
    private FloatTensor weightFor(String key, Calibration.Layer l) {
        return quantizedWeights.computeIfAbsent(key, k -> WeightQuantizer.quantize(store.readFloat(k), l.smoothQuant(), format).dequantize());
    }

    private FloatTensor activation(Tensor x, Calibration.Layer l, String key) {
        FloatTensor v = (x instanceof FloatTensor f ? f : inner.download(x)).copy();
        float[] d = v.data();
        double[] s = l.smoothQuant();
        if (s != null) {
            int in = v.dim(-1);
            for (int i = 0; i < d.length; i++) d[i] = (float) (d[i] / s[i % in]);
        }
        float scale = format.scaleFor(calibration.range(key));
        for (int i = 0; i < d.length; i++) d[i] = format.fakeQuantize(d[i], scale);
        return v;
    }

    @Override public Tensor conv2d(Tensor x, Tensor w, Tensor b, int stride, int padding, int groups) {
        Calibration.Layer l = layer(w);
        if (l == null) return inner.conv2d(x, w, b, stride, padding, groups);
        String key = keys.get(w);
        return inner.conv2d(inner.upload(activation(x, l, key)), weightFor(key, l), b, stride, padding, groups);
    }

    @Override public Tensor conv2dWithInputBias(Tensor x, Tensor ib, Tensor w, Tensor b, int stride, int padding, int groups) {
        Calibration.Layer l = layer(w);
        if (l == null) return inner.conv2dWithInputBias(x, ib, w, b, stride, padding, groups);
        return conv2d(ib == null ? x : inner.addPerChannel(x, ib), w, b, stride, padding, groups);
    }

    @Override public Tensor linear(Tensor x, Tensor w, Tensor b) {
        Calibration.Layer l = layer(w);
        if (l == null) return inner.linear(x, w, b);
        String key = keys.get(w);
        return inner.linear(inner.upload(activation(x, l, key)), weightFor(key, l), b);
    }
}
