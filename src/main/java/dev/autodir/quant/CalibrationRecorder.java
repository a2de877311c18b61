package dev.autodir.quant;

import dev.autodir.backend.ForwardingOps;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Records the input ranges of every quantizable convolution and linear layer while the float32 reference runs: a
 * backend wrapper (networks compile eagerly on it, so it sees every operation) that knows each weight tensor by its
 * checkpoint key, and for a conv2d / linear whose weight the {@link QuantRecipe} quantizes, adds the input activation
 * to that layer's {@link ActivationStats}. Over a calibration restore it sees every network and, through the UNet's
 * calls, every timestep of the sampler. It wraps a backend whose tensors are on the host (the cpu backend).
 */
public final class CalibrationRecorder extends ForwardingOps {
    private final QuantRecipe recipe;
    private final Map<Tensor, String> keys = new IdentityHashMap<>();
    private final Map<String, ActivationStats> stats = new LinkedHashMap<>();
    private final Map<String, String> ops = new LinkedHashMap<>();
    private WeightStore store;

    public CalibrationRecorder(Ops inner, QuantRecipe recipe) {
        super(inner);
        this.recipe = recipe;
    }

    @Override public Tensor weight(WeightStore s, String key) {
        Tensor t = inner.weight(s, key);
        keys.put(t, key);
        store = s;
        return t;
    }

    private void record(String op, Tensor w, Tensor x, boolean perChannel) {
        String key = keys.get(w);
        if (key == null || !recipe.quantizes(key)) return;
        FloatTensor xv = x instanceof FloatTensor f ? f : inner.download(x);
        int[] s = xv.shape();
        stats.computeIfAbsent(key, k -> new ActivationStats()).add(xv.data(), perChannel ? s[s.length - 1] : 0);
        ops.putIfAbsent(key, op);
    }

    @Override public Tensor conv2d(Tensor x, Tensor w, Tensor b, int stride, int padding, int groups) {
        record("conv2d", w, x, false);
        return inner.conv2d(x, w, b, stride, padding, groups);
    }

    @Override public Tensor conv2dWithInputBias(Tensor x, Tensor ib, Tensor w, Tensor b, int stride, int padding, int groups) {
        if (ib != null && keys.containsKey(w) && recipe.quantizes(keys.get(w))) record("conv2d", w, inner.addPerChannel(x, ib), false);
        else if (ib == null) record("conv2d", w, x, false);
        return inner.conv2dWithInputBias(x, ib, w, b, stride, padding, groups);
    }

    @Override public Tensor linear(Tensor x, Tensor w, Tensor b) {
        record("linear", w, x, true);
        return inner.linear(x, w, b);
    }

    /** The layers seen so far, in first-use order. */
    public Map<String, ActivationStats> stats() { return java.util.Collections.unmodifiableMap(stats); }

    /**
     * The layers as a calibration: ranges per tensor, the chosen percentile, and SmoothQuant factors for linear
     * layers, s_j = max|x_j|^α / max|w_j|^(1−α) (max|w_j| over the weight's column j; s_j = 1 where either is 0).
     * A smoothed layer's range is that of x/s: max_j max|x_j| / s_j, for the max and the percentile alike (the
     * histogram is of the unsmoothed input).
     */
    public Map<String, Calibration.Layer> layers(double percentile, double alpha) {
        Map<String, Calibration.Layer> out = new LinkedHashMap<>();
        stats.forEach((key, st) -> {
            if (st.nonFinite() > 0) {
                throw new IllegalStateException("calibration: layer " + key + " saw " + st.nonFinite() + " non-finite input values");
            }
            double[] sq = null;
            if (alpha > 0 && "linear".equals(ops.get(key)) && st.channelAmax() != null) {
                double[] xa = st.channelAmax();
                FloatTensor w = store.readFloat(key);
                int in = w.dim(1), outCh = w.dim(0);
                sq = new double[in];
                for (int j = 0; j < in; j++) {
                    double wa = 0;
                    for (int o = 0; o < outCh; o++) wa = Math.max(wa, Math.abs(w.data()[o * in + j]));
                    sq[j] = xa[j] > 0 && wa > 0 ? Math.pow(xa[j], alpha) / Math.pow(wa, 1 - alpha) : 1.0;
                }
            }
            if (sq != null) {
                double[] xa = st.channelAmax();
                double smoothed = 0;
                for (int j = 0; j < sq.length; j++) smoothed = Math.max(smoothed, xa[j] / sq[j]);
                out.put(key, new Calibration.Layer(ops.get(key), smoothed, smoothed, st.count(), sq));
            } else {
                out.put(key, new Calibration.Layer(ops.get(key), st.amax(), st.percentile(percentile), st.count(), null));
            }
        });
        return out;
    }
}
