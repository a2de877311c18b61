package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.Networks;
import dev.autodir.tensor.FloatTensor;

import java.util.Arrays;
import java.util.Map;

/**
 * The UNet as a sampling step evaluates it: the {@code unet} network compiled on the UNet stage's backend for the
 * step's input shapes (once, then reused by every step: on the cuda backend one CUDA graph replay per step).
 */
public final class UNetEvaluator {
    private final AutoDIRModels models;
    private final Ops ops;
    private final NetworkCache cache;

    public UNetEvaluator(AutoDIRModels models, Ops ops, NetworkCache cache) {
        this.models = models;
        this.ops = ops;
        this.cache = cache;
    }

    public Ops ops() { return ops; }

    /** eps = UNet(x [B, inC, h, w], t for every batch entry, context [B, T, D]); valid until the next call. */
    public Tensor eps(Tensor x, float t, Tensor context) {
        int[] xs = x.shape(), cs = context.shape();
        if (xs.length != 4 || cs.length != 3) {
            throw new IllegalArgumentException("UNet input x " + Arrays.toString(xs) + " and context " + Arrays.toString(cs)
                    + " must be [B, C, h, w] and [B, T, D]");
        }
        float[] ts = new float[xs[0]];
        Arrays.fill(ts, t);
        Tensor timesteps = ops.uploadFloat32(new FloatTensor(ts, ts.length));
        return cache.get(ops, Networks.unet(models, xs[0], xs[2], xs[3], cs[1]))
                .run(Map.of("x", x, "timesteps", timesteps, "context", context)).get("eps");
    }
}
