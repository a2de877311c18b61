package dev.autodir.model.vae;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.model.VAEConfig;
import dev.autodir.model.Weights;

import static dev.autodir.model.Layers.conv;
import static dev.autodir.model.Layers.groupNorm;

/**
 * ldm {@code AutoencoderKL} (first_stage_model.*): the encoder with quant_conv giving the posterior moments,
 * and post_quant_conv with the decoder. GroupNorm 32 groups, eps 1e-6 everywhere.
 */
public final class VAE {
    static final int GROUPS = 32;
    static final float EPS = 1e-6f;
    public static final String PREFIX = "first_stage_model.";

    private final VAEConfig cfg;
    private final Weights w;

    public VAE(VAEConfig cfg, WeightStore store) {
        this.cfg = cfg;
        this.w = new Weights(store, PREFIX);
    }

    public VAEConfig config() { return cfg; }

    /** The posterior of {@code encode}: moments [B, 2E, h, w] = (mean | logvar). */
    public record Posterior(Tensor moments, Tensor mean, Tensor logvarClamped) { }

    /**
     * AutoencoderKL.encode: image [B, 3, H, W] in [-1, 1] of any size the official module takes: each Downsample pads
     * (0, 1, 0, 1) and convolves 3x3 with stride 2, so a side goes H → ⌊H/2⌋ per level and only needs to stay at
     * least 2 where it is downsampled (the latent is [B, E, ⌊H/f⌋, ⌊W/f⌋] for H, W multiples of f = 2^(levels−1)).
     */
    public Posterior encode(Ops ops, Tensor image) {
        int[] s = image.shape();
        if (s.length != 4 || s[1] != cfg.inChannels()) {
            throw new IllegalArgumentException("VAE encoder input must be [B, " + cfg.inChannels() + ", H, W], got "
                    + java.util.Arrays.toString(s));
        }
        int downsamplings = cfg.chMult().size() - 1, least = 1 << downsamplings;
        if (s[2] < least || s[3] < least) {
            throw new IllegalArgumentException("VAE encoder input " + java.util.Arrays.toString(s) + ": H and W must be at least "
                    + least + " (" + downsamplings + " stride-2 downsamplings)");
        }
        Tensor moments = conv(ops, w.sub("quant_conv"), encoder(ops, w.sub("encoder"), image), 1, 0); // [B, 2E, h, w]
        int e = cfg.embedDim();
        Tensor mean = ops.slice(moments, 1, 0, e);                                                  // [B, E, h, w]
        Tensor logvar = ops.clamp(ops.slice(moments, 1, e, 2 * e), -30f, 20f);                      // DiagonalGaussianDistribution
        return new Posterior(moments, mean, logvar);
    }

    /** {@code decode_first_stage}: z [B, E, h, w] in scaled latent space → image [B, 3, h·f, w·f]. */
    public Tensor decodeFirstStage(Ops ops, Tensor z, double scaleFactor) {
        Tensor zs = ops.scale(z, (float) (1.0 / scaleFactor));                                     // 1/scale_factor · z
        return decode(ops, zs);
    }

    /** AutoencoderKL.decode: decoder(post_quant_conv(z)). */
    public Tensor decode(Ops ops, Tensor z) {
        int[] s = z.shape();
        if (s.length != 4 || s[1] != cfg.embedDim()) {
            throw new IllegalArgumentException("VAE decoder input must be [B, " + cfg.embedDim() + ", h, w], got "
                    + java.util.Arrays.toString(s));
        }
        Tensor h = conv(ops, w.sub("post_quant_conv"), z, 1, 0);                                  // [B, zC, h, w]
        return decoder(ops, w.sub("decoder"), h);
    }

    private Tensor encoder(Ops ops, Weights e, Tensor x) {
        int levels = cfg.chMult().size();
        Tensor h = conv(ops, e.sub("conv_in"), x, 1, 1);                                           // [B, ch, H, W]
        for (int i = 0; i < levels; i++) {
            Weights down = e.sub("down." + i);
            for (int j = 0; j < cfg.numResBlocks(); j++) {
                h = resnetBlock(ops, down.sub("block." + j), h);                                   // [B, ch·mult_i, H_i, W_i]
                if (down.has("attn." + j + ".q.weight")) h = attnBlock(ops, down.sub("attn." + j), h);
            }
            if (i != levels - 1) {
                h = ops.pad2d(h, 0, 1, 0, 1);                                                      // pad (0,1,0,1)
                h = conv(ops, down.sub("downsample.conv"), h, 2, 0);                               // [B, C, H_i/2, W_i/2]
            }
        }
        h = resnetBlock(ops, e.sub("mid.block_1"), h);
        h = attnBlock(ops, e.sub("mid.attn_1"), h);
        h = resnetBlock(ops, e.sub("mid.block_2"), h);
        h = groupNorm(ops, e.sub("norm_out"), h, GROUPS, EPS, true);                               // + nonlinearity (SiLU)
        return conv(ops, e.sub("conv_out"), h, 1, 1);                                              // [B, 2zC, h, w]
    }

    private Tensor decoder(Ops ops, Weights d, Tensor z) {
        int levels = cfg.chMult().size();
        Tensor h = conv(ops, d.sub("conv_in"), z, 1, 1);                                           // [B, ch·mult_last, h, w]
        h = resnetBlock(ops, d.sub("mid.block_1"), h);
        h = attnBlock(ops, d.sub("mid.attn_1"), h);
        h = resnetBlock(ops, d.sub("mid.block_2"), h);
        for (int i = levels - 1; i >= 0; i--) {
            Weights up = d.sub("up." + i);
            for (int j = 0; j <= cfg.numResBlocks(); j++) {
                h = resnetBlock(ops, up.sub("block." + j), h);                                     // [B, ch·mult_i, ., .]
                if (up.has("attn." + j + ".q.weight")) h = attnBlock(ops, up.sub("attn." + j), h);
            }
            if (i != 0) {
                h = ops.upsampleNearest2x(h);                                                      // nearest ×2
                h = conv(ops, up.sub("upsample.conv"), h, 1, 1);
            }
        }
        h = groupNorm(ops, d.sub("norm_out"), h, GROUPS, EPS, true);
        return conv(ops, d.sub("conv_out"), h, 1, 1);                                              // [B, out_ch, H, W]
    }

    /** ResnetBlock without timestep embedding; nin_shortcut (1x1) when the channel count changes. */
    private Tensor resnetBlock(Ops ops, Weights b, Tensor x) {
        Tensor h = groupNorm(ops, b.sub("norm1"), x, GROUPS, EPS, true);
        h = conv(ops, b.sub("conv1"), h, 1, 1);                                                    // [B, Cout, H, W]
        h = groupNorm(ops, b.sub("norm2"), h, GROUPS, EPS, true);                                  // dropout is identity
        h = conv(ops, b.sub("conv2"), h, 1, 1);
        Tensor skip = b.has("nin_shortcut.weight") ? conv(ops, b.sub("nin_shortcut"), x, 1, 0) : x;
        return ops.add(skip, h);
    }

    /** AttnBlock: single-head self-attention over the H·W positions with 1x1-conv q, k, v, proj_out. */
    private Tensor attnBlock(Ops ops, Weights a, Tensor x) {
        int[] s = x.shape();
        int c = s[1];
        Tensor h = groupNorm(ops, a.sub("norm"), x, GROUPS, EPS, false);
        Tensor q = ops.nchwToTokens(conv(ops, a.sub("q"), h, 1, 0));                               // [B, N, C]
        Tensor k = ops.nchwToTokens(conv(ops, a.sub("k"), h, 1, 0));
        Tensor v = ops.nchwToTokens(conv(ops, a.sub("v"), h, 1, 0));
        Tensor o = ops.attention(q, k, v, 1, (float) Math.pow(c, -0.5), AttentionMask.NONE);       // [B, N, C]
        h = conv(ops, a.sub("proj_out"), ops.tokensToNchw(o, s[2], s[3]), 1, 0);                   // [B, C, H, W]
        return ops.add(x, h);
    }
}
