package dev.autodir.model;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every weight a network config implies, by state-dict key (without the network's prefix) and shape,
 * in the order the official modules register them. Validation compares this table with a checkpoint,
 * so one table per network is the whole description of what the engine will bind.
 */
public final class WeightLayout {
    private WeightLayout() { }

    /** ldm {@code openaimodel.UNetModel}, spatial transformer, legacy=False, conv_resample, no scale-shift norm. */
    public static Map<String, int[]> unet(UNetConfig c) {
        Builder b = new Builder();
        int mc = c.modelChannels();
        int te = 4 * mc;
        b.linear("time_embed.0", te, mc, true);                               // time_embed.1 is SiLU
        b.linear("time_embed.2", te, te, true);
        b.conv("input_blocks.0.0", mc, c.inChannels(), 3);
        Deque<Integer> skips = new ArrayDeque<>();
        skips.push(mc);
        int ch = mc;
        int idx = 1;
        int last = c.levels() - 1;
        for (int level = 0; level <= last; level++) {
            int cout = mc * c.channelMult().get(level);
            for (int r = 0; r < c.numResBlocks(); r++) {
                resBlock(b, "input_blocks." + idx + ".0", ch, cout, te);
                ch = cout;
                if (c.attentionLevels().contains(level)) transformer(b, "input_blocks." + idx + ".1", ch, c);
                skips.push(ch);
                idx++;
            }
            if (level != last) {
                b.conv("input_blocks." + idx + ".0.op", ch, ch, 3);           // Downsample: 3x3 stride 2
                skips.push(ch);
                idx++;
            }
        }
        resBlock(b, "middle_block.0", ch, ch, te);
        transformer(b, "middle_block.1", ch, c);
        resBlock(b, "middle_block.2", ch, ch, te);
        idx = 0;
        for (int level = last; level >= 0; level--) {
            int cout = mc * c.channelMult().get(level);
            for (int i = 0; i <= c.numResBlocks(); i++) {
                resBlock(b, "output_blocks." + idx + ".0", ch + skips.pop(), cout, te);
                ch = cout;
                int layer = 1;
                if (c.attentionLevels().contains(level)) transformer(b, "output_blocks." + idx + "." + layer++, ch, c);
                if (level > 0 && i == c.numResBlocks()) b.conv("output_blocks." + idx + "." + layer + ".conv", ch, ch, 3); // Upsample
                idx++;
            }
        }
        b.norm("out.0", ch);                                                  // out.1 is SiLU
        b.conv("out.2", c.outChannels(), mc, 3);
        return b.done();
    }

    private static void resBlock(Builder b, String p, int cin, int cout, int te) {
        b.norm(p + ".in_layers.0", cin);                                      // in_layers.1 is SiLU
        b.conv(p + ".in_layers.2", cout, cin, 3);
        b.linear(p + ".emb_layers.1", cout, te, true);                        // emb_layers.0 is SiLU
        b.norm(p + ".out_layers.0", cout);                                    // out_layers.1 SiLU, .2 dropout
        b.conv(p + ".out_layers.3", cout, cout, 3);
        if (cin != cout) b.conv(p + ".skip_connection", cout, cin, 1);
    }

    /** SpatialTransformer: inner width = heads · dim_head = channels under the legacy=False head rule. */
    private static void transformer(Builder b, String p, int ch, UNetConfig c) {
        int inner = ch;
        int ctx = c.contextDim();
        b.norm(p + ".norm", ch);
        if (c.useLinearProjection()) b.linear(p + ".proj_in", inner, ch, true);
        else b.conv(p + ".proj_in", inner, ch, 1);
        for (int d = 0; d < c.transformerDepth(); d++) {
            String t = p + ".transformer_blocks." + d;
            b.linear(t + ".attn1.to_q", inner, inner, false);
            b.linear(t + ".attn1.to_k", inner, inner, false);
            b.linear(t + ".attn1.to_v", inner, inner, false);
            b.linear(t + ".attn1.to_out.0", inner, inner, true);              // to_out.1 is dropout
            b.linear(t + ".attn2.to_q", inner, inner, false);
            b.linear(t + ".attn2.to_k", inner, ctx, false);
            b.linear(t + ".attn2.to_v", inner, ctx, false);
            b.linear(t + ".attn2.to_out.0", inner, inner, true);
            b.linear(t + ".ff.net.0.proj", inner * 8, inner, true);           // GEGLU: 2 × (4 · inner)
            b.linear(t + ".ff.net.2", inner, inner * 4, true);                // ff.net.1 is dropout
            b.norm(t + ".norm1", inner);
            b.norm(t + ".norm2", inner);
            b.norm(t + ".norm3", inner);
        }
        if (c.useLinearProjection()) b.linear(p + ".proj_out", ch, inner, true);
        else b.conv(p + ".proj_out", ch, inner, 1);
    }

    /** ldm {@code AutoencoderKL}: Encoder, Decoder, quant_conv, post_quant_conv (no attention outside mid). */
    public static Map<String, int[]> vae(VAEConfig c) {
        Builder b = new Builder();
        int last = c.chMult().size() - 1;
        b.conv("encoder.conv_in", c.ch(), c.inChannels(), 3);
        int blockIn = c.ch();
        for (int i = 0; i <= last; i++) {
            int blockOut = c.ch() * c.chMult().get(i);
            for (int j = 0; j < c.numResBlocks(); j++) {
                resnet(b, "encoder.down." + i + ".block." + j, blockIn, blockOut);
                blockIn = blockOut;
            }
            if (i != last) b.conv("encoder.down." + i + ".downsample.conv", blockIn, blockIn, 3);
        }
        mid(b, "encoder.mid", blockIn);
        b.norm("encoder.norm_out", blockIn);
        b.conv("encoder.conv_out", c.doubleZ() ? 2 * c.zChannels() : c.zChannels(), blockIn, 3);

        blockIn = c.ch() * c.chMult().get(last);
        b.conv("decoder.conv_in", blockIn, c.zChannels(), 3);
        mid(b, "decoder.mid", blockIn);
        for (int i = last; i >= 0; i--) {
            int blockOut = c.ch() * c.chMult().get(i);
            for (int j = 0; j <= c.numResBlocks(); j++) {
                resnet(b, "decoder.up." + i + ".block." + j, blockIn, blockOut);
                blockIn = blockOut;
            }
            if (i != 0) b.conv("decoder.up." + i + ".upsample.conv", blockIn, blockIn, 3);
        }
        b.norm("decoder.norm_out", blockIn);
        b.conv("decoder.conv_out", c.outChannels(), blockIn, 3);
        b.conv("quant_conv", 2 * c.embedDim(), 2 * c.zChannels(), 1);
        b.conv("post_quant_conv", c.zChannels(), c.embedDim(), 1);
        return b.done();
    }

    private static void resnet(Builder b, String p, int cin, int cout) {
        b.norm(p + ".norm1", cin);
        b.conv(p + ".conv1", cout, cin, 3);
        b.norm(p + ".norm2", cout);
        b.conv(p + ".conv2", cout, cout, 3);
        if (cin != cout) b.conv(p + ".nin_shortcut", cout, cin, 1);
    }

    private static void mid(Builder b, String p, int c) {
        resnet(b, p + ".block_1", c, c);
        b.norm(p + ".attn_1.norm", c);
        for (String n : new String[] {"q", "k", "v", "proj_out"}) b.conv(p + ".attn_1." + n, c, c, 1);
        resnet(b, p + ".block_2", c, c);
    }

    /** HF {@code CLIPTextTransformer} ({@code text_model.*}), {@code text_projection} and the model's {@code logit_scale}. */
    public static Map<String, int[]> clipText(CLIPTextConfig c) {
        Builder b = new Builder();
        int h = c.hidden();
        b.put("text_model.embeddings.token_embedding.weight", c.vocabSize(), h);
        b.put("text_model.embeddings.position_embedding.weight", c.maxPositions(), h);
        encoder(b, "text_model.encoder", c.layers(), h, c.intermediate());
        b.norm("text_model.final_layer_norm", h);
        b.put("text_projection.weight", c.projectionDim(), h);
        b.put(LOGIT_SCALE);
        return b.done();
    }

    /** The CLIPModel's temperature: a 0-dim parameter (some exporters write shape [1], which is accepted too). */
    public static final String LOGIT_SCALE = "logit_scale";

    /** HF {@code CLIPVisionTransformer} ({@code vision_model.*}) and {@code visual_projection}. */
    public static Map<String, int[]> clipVision(CLIPVisionConfig c) {
        Builder b = new Builder();
        int h = c.hidden();
        b.put("vision_model.embeddings.class_embedding", h);
        b.put("vision_model.embeddings.patch_embedding.weight", h, 3, c.patchSize(), c.patchSize());
        b.put("vision_model.embeddings.position_embedding.weight", c.numPositions(), h);
        b.norm("vision_model.pre_layrnorm", h);                               // sic: HF's spelling
        encoder(b, "vision_model.encoder", c.layers(), h, c.intermediate());
        b.norm("vision_model.post_layernorm", h);
        b.put("visual_projection.weight", c.projectionDim(), h);
        return b.done();
    }

    /** The int64 {@code position_ids} buffers HF registers: present in the official checkpoint, unused by the engine. */
    public static Map<String, int[]> clipBuffers(CLIPTextConfig text, CLIPVisionConfig vision) {
        Map<String, int[]> m = new LinkedHashMap<>();
        if (text != null) m.put("text_model.embeddings.position_ids", new int[] {1, text.maxPositions()});
        if (vision != null) m.put("vision_model.embeddings.position_ids", new int[] {1, vision.numPositions()});
        return m;
    }

    private static void encoder(Builder b, String p, int layers, int h, int inter) {
        for (int i = 0; i < layers; i++) {
            String l = p + ".layers." + i;
            for (String n : new String[] {"k_proj", "v_proj", "q_proj", "out_proj"}) b.linear(l + ".self_attn." + n, h, h, true);
            b.norm(l + ".layer_norm1", h);
            b.linear(l + ".mlp.fc1", inter, h, true);
            b.linear(l + ".mlp.fc2", h, inter, true);
            b.norm(l + ".layer_norm2", h);
        }
    }

    /** NAFNet as built by AutoDIR's {@code NAFNet_Combine} (ending has 3 output channels). */
    public static Map<String, int[]> nafnet(NAFNetConfig c) {
        Builder b = new Builder();
        int chan = c.width();
        b.conv("intro", chan, c.imgChannels(), 3);
        b.conv("ending", 3, chan, 3);
        for (int i = 0; i < c.encBlocks().size(); i++) {
            for (int j = 0; j < c.encBlocks().get(i); j++) nafBlock(b, "encoders." + i + "." + j, chan);
            b.conv("downs." + i, 2 * chan, chan, 2);                         // 2x2 stride 2
            chan *= 2;
        }
        for (int j = 0; j < c.middleBlocks(); j++) nafBlock(b, "middle_blks." + j, chan);
        for (int i = 0; i < c.decBlocks().size(); i++) {
            b.put("ups." + i + ".0.weight", 2 * chan, chan, 1, 1);            // 1x1 conv without bias; ups.i.1 is PixelShuffle(2)
            chan /= 2;
            for (int j = 0; j < c.decBlocks().get(i); j++) nafBlock(b, "decoders." + i + "." + j, chan);
        }
        return b.done();
    }

    private static void nafBlock(Builder b, String p, int c) {
        b.conv(p + ".conv1", 2 * c, c, 1);
        b.put(p + ".conv2.weight", 2 * c, 1, 3, 3);                           // depthwise
        b.put(p + ".conv2.bias", 2 * c);
        b.conv(p + ".conv3", c, c, 1);
        b.conv(p + ".sca.1", c, c, 1);                                        // sca.0 is the global average pool
        b.conv(p + ".conv4", 2 * c, c, 1);
        b.conv(p + ".conv5", c, c, 1);
        b.norm(p + ".norm1", c);
        b.norm(p + ".norm2", c);
        b.put(p + ".beta", 1, c, 1, 1);
        b.put(p + ".gamma", 1, c, 1, 1);
    }

    /** Collects keys in registration order. */
    private static final class Builder {
        private final Map<String, int[]> m = new LinkedHashMap<>();

        void put(String key, int... shape) {
            if (m.put(key, shape) != null) throw new IllegalStateException("duplicate key " + key);
        }

        void conv(String p, int out, int in, int k) {
            put(p + ".weight", out, in, k, k);
            put(p + ".bias", out);
        }

        void linear(String p, int out, int in, boolean bias) {
            put(p + ".weight", out, in);
            if (bias) put(p + ".bias", out);
        }

        void norm(String p, int c) {
            put(p + ".weight", c);
            put(p + ".bias", c);
        }

        Map<String, int[]> done() { return Collections.unmodifiableMap(m); }
    }
}
