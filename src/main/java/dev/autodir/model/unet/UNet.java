package dev.autodir.model.unet;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.model.UNetConfig;
import dev.autodir.model.Weights;
import dev.autodir.tensor.FloatTensor;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

import static dev.autodir.model.Layers.conv;
import static dev.autodir.model.Layers.groupNorm;
import static dev.autodir.model.Layers.layerNorm;
import static dev.autodir.model.Layers.linear;

/**
 * ldm {@code openaimodel.UNetModel} with {@code use_spatial_transformer=True, legacy=False} (the SD-1.5
 * layout AutoDIR uses), read from {@code model.diffusion_model.*}. Shape comments use B batch, C channels
 * of the current level, h×w the current resolution, N = h·w tokens, D the context width.
 */
public final class UNet {
    static final int GROUPS = 32;
    static final float RESBLOCK_EPS = 1e-5f;       // normalization(): GroupNorm32(32, C), eps 1e-5
    static final float TRANSFORMER_GN_EPS = 1e-6f; // SpatialTransformer.norm: Normalize(), eps 1e-6
    static final float LAYERNORM_EPS = 1e-5f;      // nn.LayerNorm default

    public static final String PREFIX = "model.diffusion_model.";

    private final UNetConfig cfg;
    private final Weights w;

    public UNet(UNetConfig cfg, WeightStore store) {
        this.cfg = cfg;
        this.w = new Weights(store, PREFIX);
    }

    public UNetConfig config() { return cfg; }

    /** The UNet on host inputs; fractional timesteps t [B]. */
    public Tensor forward(Ops ops, Tensor x, float[] timesteps, Tensor context) {
        return forward(ops, x, ops.uploadFloat32(new FloatTensor(timesteps.clone(), timesteps.length)), context);
    }

    /**
     * UNetModel.forward: x [B, inChannels, h, w] (h, w multiples of 2^(levels−1)), t [B] float timesteps,
     * context [B, T, D] → eps [B, outChannels, h, w].
     */
    public Tensor forward(Ops ops, Tensor x, Tensor t, Tensor context) {
        int mc = cfg.modelChannels();
        int[] xs = x.shape();
        int factor = 1 << (cfg.levels() - 1);
        if (xs.length != 4 || xs[1] != cfg.inChannels() || xs[2] % factor != 0 || xs[3] % factor != 0) {
            throw new IllegalArgumentException("UNet input must be [B, " + cfg.inChannels() + ", h, w] with h, w multiples of "
                    + factor + ", got " + java.util.Arrays.toString(xs));
        }
        Tensor tEmb = ops.timestepEmbedding(t, mc);                               // [B, mc]
        Tensor emb = linear(ops, w.sub("time_embed.0"), tEmb);                   // [B, 4mc]
        emb = linear(ops, w.sub("time_embed.2"), ops.silu(emb));                 // [B, 4mc]  time_embed.1 is SiLU
        Tensor embSilu = ops.silu(emb);                                          // emb_layers.0 of every ResBlock is SiLU

        Deque<Tensor> hs = new ArrayDeque<>();
        Tensor h = conv(ops, w.sub("input_blocks.0.0"), x, 1, 1);                // [B, mc, h, w]
        hs.push(h);
        int block = 1;
        for (int level = 0; level < cfg.levels(); level++) {
            int ch = cfg.channelMult().get(level) * mc;
            for (int r = 0; r < cfg.numResBlocks(); r++) {
                Weights b = w.sub("input_blocks." + block);
                h = resBlock(ops, b.sub("0"), h, embSilu);                         // [B, ch, h, w]
                if (hasAttention(level)) h = spatialTransformer(ops, b.sub("1"), h, context, ch);
                hs.push(h);
                block++;
            }
            if (level != cfg.levels() - 1) {
                h = conv(ops, w.sub("input_blocks." + block + ".0.op"), h, 2, 1);   // [B, ch, h/2, w/2]  Downsample
                hs.push(h);
                block++;
            }
        }

        int chMid = cfg.channelMult().get(cfg.levels() - 1) * mc;
        h = resBlock(ops, w.sub("middle_block.0"), h, embSilu);                  // [B, chMid, h', w']
        h = spatialTransformer(ops, w.sub("middle_block.1"), h, context, chMid);  // always present
        h = resBlock(ops, w.sub("middle_block.2"), h, embSilu);

        block = 0;
        for (int level = cfg.levels() - 1; level >= 0; level--) {
            int ch = cfg.channelMult().get(level) * mc;
            for (int i = 0; i <= cfg.numResBlocks(); i++) {
                Weights b = w.sub("output_blocks." + block);
                h = ops.concat(List.of(h, hs.pop()), 1);                          // [B, C + skip, h, w]
                h = resBlock(ops, b.sub("0"), h, embSilu);                         // [B, ch, h, w]
                int next = 1;
                if (hasAttention(level)) h = spatialTransformer(ops, b.sub(next++), h, context, ch);
                if (level > 0 && i == cfg.numResBlocks()) {
                    h = ops.upsampleNearest2x(h);                                 // [B, ch, 2h, 2w]  Upsample
                    h = conv(ops, b.sub(next + ".conv"), h, 1, 1);
                }
                block++;
            }
        }
        h = groupNorm(ops, w.sub("out.0"), h, GROUPS, RESBLOCK_EPS, true);      // out.1 is SiLU
        return conv(ops, w.sub("out.2"), h, 1, 1);                               // [B, outChannels, h, w]
    }

    /**
     * {@code LatentDiffusion.apply_model} with hybrid conditioning: the UNet sees
     * cat([xNoisy, cConcat], channel) and cross-attends to cCrossattn.
     */
    public Tensor applyModel(Ops ops, Tensor xNoisy, Tensor t, Tensor cConcat, Tensor cCrossattn) {
        return forward(ops, ops.concat(List.of(xNoisy, cConcat), 1), t, cCrossattn);
    }

    private boolean hasAttention(int level) { return cfg.attentionLevels().contains(level); }

    /** ResBlock without up/down sampling and without scale-shift norm. */
    private Tensor resBlock(Ops ops, Weights b, Tensor x, Tensor embSilu) {
        Tensor h = groupNorm(ops, b.sub("in_layers.0"), x, GROUPS, RESBLOCK_EPS, true); // in_layers.1 is SiLU
        h = conv(ops, b.sub("in_layers.2"), h, 1, 1);                                    // [B, Cout, h, w]
        Tensor e = linear(ops, b.sub("emb_layers.1"), embSilu);                          // [B, Cout]
        h = ops.addPerChannel(h, e);
        h = groupNorm(ops, b.sub("out_layers.0"), h, GROUPS, RESBLOCK_EPS, true);         // out_layers.1 SiLU, .2 dropout
        h = conv(ops, b.sub("out_layers.3"), h, 1, 1);                                   // [B, Cout, h, w]
        Tensor skip = b.has("skip_connection.weight")
                ? conv(ops, b.sub("skip_connection"), x, 1, 0)                             // 1x1: Cin → Cout
                : x;                                                                       // Identity
        return ops.add(skip, h);
    }

    /** SpatialTransformer: GroupNorm, proj_in, transformer blocks over N = h·w tokens, proj_out, residual. */
    private Tensor spatialTransformer(Ops ops, Weights s, Tensor x, Tensor context, int channels) {
        int[] sh = x.shape();
        int hh = sh[2], ww = sh[3];
        int heads = cfg.headsFor(channels);
        Tensor h = groupNorm(ops, s.sub("norm"), x, GROUPS, TRANSFORMER_GN_EPS, false); // [B, C, h, w]
        if (cfg.useLinearProjection()) {
            h = linear(ops, s.sub("proj_in"), ops.nchwToTokens(h));                   // [B, N, inner]
        } else {
            h = ops.nchwToTokens(conv(ops, s.sub("proj_in"), h, 1, 0));                // [B, N, inner]
        }
        for (int d = 0; d < cfg.transformerDepth(); d++) {
            h = transformerBlock(ops, s.sub("transformer_blocks." + d), h, context, heads);
        }
        if (cfg.useLinearProjection()) {
            h = ops.tokensToNchw(linear(ops, s.sub("proj_out"), h), hh, ww);           // [B, C, h, w]
        } else {
            h = conv(ops, s.sub("proj_out"), ops.tokensToNchw(h, hh, ww), 1, 0);       // [B, C, h, w]
        }
        return ops.add(h, x);
    }

    /** BasicTransformerBlock: self-attention, cross-attention, GEGLU feed-forward, each pre-LN and residual. */
    private Tensor transformerBlock(Ops ops, Weights t, Tensor x, Tensor context, int heads) {
        x = ops.add(attention(ops, t.sub("attn1"), layerNorm(ops, t.sub("norm1"), x, LAYERNORM_EPS), null, heads), x);
        x = ops.add(attention(ops, t.sub("attn2"), layerNorm(ops, t.sub("norm2"), x, LAYERNORM_EPS), context, heads), x);
        Tensor f = linear(ops, t.sub("ff.net.0.proj"), layerNorm(ops, t.sub("norm3"), x, LAYERNORM_EPS)); // [B, N, 2·4C]
        f = linear(ops, t.sub("ff.net.2"), ops.geglu(f));                                // [B, N, C]  ff.net.1 dropout
        return ops.add(f, x);
    }

    /** CrossAttention (self-attention when context is null): q, k, v without bias, to_out.0 with bias. */
    private Tensor attention(Ops ops, Weights a, Tensor x, Tensor context, int heads) {
        Tensor ctx = context == null ? x : context;
        Tensor q = linear(ops, a.sub("to_q"), x);                                      // [B, N, inner]
        Tensor k = linear(ops, a.sub("to_k"), ctx);                                    // [B, T, inner]
        Tensor v = linear(ops, a.sub("to_v"), ctx);                                    // [B, T, inner]
        int inner = q.shape()[2];
        float scale = (float) Math.pow(inner / heads, -0.5);                           // dim_head ** -0.5
        Tensor o = ops.attention(q, k, v, heads, scale, AttentionMask.NONE);            // [B, N, inner]
        return linear(ops, a.sub("to_out.0"), o);                                      // [B, N, C]
    }
}
