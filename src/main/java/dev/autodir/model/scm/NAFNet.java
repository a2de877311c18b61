package dev.autodir.model.scm;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.model.NAFNetConfig;
import dev.autodir.model.Weights;

import java.util.ArrayList;
import java.util.List;

import static dev.autodir.model.Layers.conv;

/**
 * AutoDIR's structural correction module: {@code NAFNet_Combine} (NAFNet.*). The input is
 * cat([degraded image, decoded image]) [B, 6, H, W]; the output is ending(...)·w + input[:, 3:6], cropped
 * back to H×W. The official code fixes w = 1; the paper uses 0.1 for super-resolution.
 */
public final class NAFNet {
    static final float EPS = 1e-6f; // LayerNorm2d
    public static final String PREFIX = "NAFNet.";

    private final NAFNetConfig cfg;
    private final Weights w;

    public NAFNet(NAFNetConfig cfg, WeightStore store) {
        this.cfg = cfg;
        this.w = new Weights(store, PREFIX);
    }

    public NAFNetConfig config() { return cfg; }

    /**
     * NAFNet_Combine.forward with SCM weight {@code weight} (a one-element tensor on {@code ops}; null for the official 1):
     * inp [B, imgChannels, H, W] → [B, 3, H, W].
     */
    public Tensor forward(Ops ops, Tensor inp, Tensor weight) {
        int[] s = inp.shape();
        if (s.length != 4 || s[1] != cfg.imgChannels()) {
            throw new IllegalArgumentException("SCM input must be [B, " + cfg.imgChannels() + ", H, W], got "
                    + java.util.Arrays.toString(s));
        }
        int hh = s[2], ww = s[3], m = cfg.padMultiple();
        Tensor padded = ops.pad2d(inp, 0, (m - hh % m) % m, 0, (m - ww % m) % m);   // check_image_size: zeros right/bottom
        Tensor x = conv(ops, w.sub("intro"), padded, 1, 1);                            // [B, width, H', W']

        List<Tensor> encs = new ArrayList<>();
        for (int i = 0; i < cfg.encBlocks().size(); i++) {
            for (int b = 0; b < cfg.encBlocks().get(i); b++) x = nafBlock(ops, w.sub("encoders." + i + "." + b), x);
            encs.add(x);
            x = conv(ops, w.sub("downs." + i), x, 2, 0);                              // 2x2 stride 2: [B, 2C, ., .]
        }
        for (int b = 0; b < cfg.middleBlocks(); b++) x = nafBlock(ops, w.sub("middle_blks." + b), x);
        for (int i = 0; i < cfg.decBlocks().size(); i++) {
            x = conv(ops, w.sub("ups." + i + ".0"), x, 1, 0);                         // 1x1, no bias: [B, 2C, ., .]
            x = ops.pixelShuffle(x, 2);                                                 // ups.i.1: [B, C/2, 2., 2.]
            x = ops.add(x, encs.get(encs.size() - 1 - i));
            for (int b = 0; b < cfg.decBlocks().get(i); b++) x = nafBlock(ops, w.sub("decoders." + i + "." + b), x);
        }
        x = conv(ops, w.sub("ending"), x, 1, 1);                                       // [B, 3, H', W']
        if (weight != null) x = ops.mulScalar(x, weight);                               // x · weight (exact for 1)
        x = ops.add(x, ops.slice(padded, 1, 3, 6));                                    // + inp[:, 3:6]
        return ops.crop2d(x, 0, 0, hh, ww);                                            // [B, 3, H, W]
    }

    /**
     * NAFBlock (DW_Expand = FFN_Expand = 2, no dropout). The biases of conv1, conv3, conv4 and conv5 are folded into
     * the operation that follows each (the {@link Ops} fused forms: the same function, fewer passes over the
     * activations where a backend fuses them).
     */
    private Tensor nafBlock(Ops ops, Weights b, Tensor inp) {
        Tensor x = ops.layerNormChannels(inp, b.get(ops, "norm1.weight"), b.get(ops, "norm1.bias"), EPS);
        x = ops.conv2d(x, b.get(ops, "conv1.weight"), null, 1, 0, 1);                  // conv1 (its bias below): [B, 2C, H, W]
        int c2 = x.shape()[1];
        x = ops.conv2dWithInputBias(x, b.get(ops, "conv1.bias"), b.get(ops, "conv2.weight"), b.get(ops, "conv2.bias"),
                1, 1, c2);                                                             // + conv1.bias, depthwise 3x3 conv2
        x = ops.simpleGate(x);                                                         // [B, C, H, W]
        Tensor s = conv(ops, b.sub("sca.1"), ops.globalAvgPool(x), 1, 0);             // sca: pool → 1x1: [B, C, 1, 1]
        x = ops.mulPerChannel(x, s);
        x = ops.conv2d(x, b.get(ops, "conv3.weight"), null, 1, 0, 1);                  // conv3 (its bias below): [B, C, H, W]
        Tensor y = ops.addScaledPerChannel(inp, x, b.get(ops, "conv3.bias"), b.get(ops, "beta"));   // inp + (x + b3)·beta
        x = ops.layerNormChannels(y, b.get(ops, "norm2.weight"), b.get(ops, "norm2.bias"), EPS);
        x = ops.conv2d(x, b.get(ops, "conv4.weight"), null, 1, 0, 1);                  // conv4 (its bias below): [B, 2C, H, W]
        x = ops.simpleGate(x, b.get(ops, "conv4.bias"));                               // SimpleGate(x + b4): [B, C, H, W]
        x = ops.conv2d(x, b.get(ops, "conv5.weight"), null, 1, 0, 1);                  // conv5 (its bias below)
        return ops.addScaledPerChannel(y, x, b.get(ops, "conv5.bias"), b.get(ops, "gamma"));       // y + (x + b5)·gamma
    }
}
