package dev.autodir.model;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;

/** The small layers every network shares, bound to their checkpoint names ({@code weight}, {@code bias}). */
public final class Layers {
    private Layers() { }

    /** nn.Conv2d: {@code w.weight} [Cout, Cin/groups, k, k], optional {@code w.bias}. */
    public static Tensor conv(Ops ops, Weights w, Tensor x, int stride, int padding) {
        return ops.conv2d(x, w.get(ops, "weight"), w.getOrNull(ops, "bias"), stride, padding, 1);
    }

    /** Depthwise / grouped nn.Conv2d. */
    public static Tensor conv(Ops ops, Weights w, Tensor x, int stride, int padding, int groups) {
        return ops.conv2d(x, w.get(ops, "weight"), w.getOrNull(ops, "bias"), stride, padding, groups);
    }

    /** nn.Linear: {@code w.weight} [out, in], optional {@code w.bias}. */
    public static Tensor linear(Ops ops, Weights w, Tensor x) {
        return ops.linear(x, w.get(ops, "weight"), w.getOrNull(ops, "bias"));
    }

    /** nn.GroupNorm(groups, C, eps), optionally followed by SiLU. */
    public static Tensor groupNorm(Ops ops, Weights w, Tensor x, int groups, float eps, boolean silu) {
        return ops.groupNorm(x, groups, w.get(ops, "weight"), w.get(ops, "bias"), eps, silu);
    }

    /** nn.LayerNorm over the last dimension. */
    public static Tensor layerNorm(Ops ops, Weights w, Tensor x, float eps) {
        return ops.layerNorm(x, w.get(ops, "weight"), w.get(ops, "bias"), eps);
    }
}
