package dev.autodir.model.clip;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.model.CLIPTextConfig;
import dev.autodir.model.CLIPVisionConfig;
import dev.autodir.model.Weights;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.autodir.model.Layers.layerNorm;
import static dev.autodir.model.Layers.linear;

/**
 * Hugging Face {@code CLIPModel} (transformers 4.28 semantics) as AutoDIR's BIQA holds it under
 * {@code model_assessment.clipmodel.*}: pre-LN encoder layers with quick_gelu MLPs, the text tower with a
 * causal mask (and optionally the tokenizer's padding mask), the vision tower with a class token, and the
 * two projections. Shapes: B batch, T tokens, D text width, P = patches + 1, E vision width, J projection.
 */
public final class CLIP {
    public static final String PREFIX = "model_assessment.clipmodel.";

    private final CLIPTextConfig text;
    private final CLIPVisionConfig vision;
    private final Weights w;

    public CLIP(CLIPTextConfig text, CLIPVisionConfig vision, WeightStore store) {
        this.text = text;
        this.vision = vision;
        this.w = new Weights(store, PREFIX);
    }

    public CLIPTextConfig textConfig() { return text; }

    public CLIPVisionConfig visionConfig() { return vision; }

    /** The text tower's outputs. */
    public record TextOutput(Tensor lastHiddenState, Tensor pooled) { }

    /** The vision tower's outputs. */
    public record VisionOutput(Tensor lastHiddenState, Tensor pooled) { }

    /**
     * CLIPTextTransformer: int32 ids [B, T] → last_hidden_state [B, T, D] (after final_layer_norm) and pooled [B, D]
     * (the row at argmax(ids), i.e. the first EOS). {@code attentionMask} int32 [B, T] (1 keep, 0 pad) or null; both on
     * {@code ops}.
     */
    public TextOutput encodeText(Ops ops, Tensor ids, Tensor attentionMask) {
        Weights t = w.sub("text_model");
        int[] s = ids.shape();
        if (s.length != 2) throw new IllegalArgumentException("CLIP text input must be ids [B, T], got " + Arrays.toString(s));
        int n = s[1];
        if (n > text.maxPositions()) {
            throw new IllegalArgumentException("CLIP text input has " + n + " tokens, the model takes at most " + text.maxPositions());
        }
        Tensor h = ops.embedding(t.get(ops, "embeddings.token_embedding.weight"), ids);           // [B, T, D]
        Tensor pos = t.get(ops, "embeddings.position_embedding.weight");                           // [maxPos, D]
        h = ops.add(h, n == text.maxPositions() ? pos : ops.slice(pos, 0, 0, n));                 // position_ids = arange(T)
        AttentionMask mask = new AttentionMask(true, attentionMask);
        h = encoder(ops, t.sub("encoder"), h, text.layers(), text.heads(), text.layerNormEps(), mask);
        h = layerNorm(ops, t.sub("final_layer_norm"), h, text.layerNormEps());                   // [B, T, D]
        return new TextOutput(h, ops.gatherRows(h, ops.argmax(ids)));                             // pooled [B, D] at the first EOS
    }

    /** text_projection (no bias): pooled [B, D] → [B, J]. */
    public Tensor projectText(Ops ops, Tensor pooled) {
        return ops.linear(pooled, w.get(ops, "text_projection.weight"), null);
    }

    /**
     * CLIPVisionTransformer: pixel_values [B, 3, S, S] → last_hidden_state [B, P, E] (encoder output, before
     * post_layernorm) and pooled [B, E] = post_layernorm(class token).
     */
    public VisionOutput encodeImage(Ops ops, Tensor pixelValues) {
        Weights v = w.sub("vision_model");
        int[] s = pixelValues.shape();
        if (s.length != 4 || s[1] != 3 || s[2] != vision.imageSize() || s[3] != vision.imageSize()) {
            throw new IllegalArgumentException("CLIP vision input must be [B, 3, " + vision.imageSize() + ", "
                    + vision.imageSize() + "], got " + Arrays.toString(s));
        }
        int b = s[0];
        Tensor patches = ops.conv2d(pixelValues, v.get(ops, "embeddings.patch_embedding.weight"), null,
                vision.patchSize(), 0, 1);                                                       // [B, E, g, g]
        patches = ops.nchwToTokens(patches);                                                     // [B, g², E]
        Tensor clsEmbedding = ops.reshape(v.get(ops, "embeddings.class_embedding"), 1, 1, vision.hidden()); // [1, 1, E]
        List<Tensor> parts = new ArrayList<>();
        for (int i = 0; i < b; i++) parts.add(clsEmbedding);
        Tensor clsB = ops.concat(parts, 0);                                                      // [B, 1, E]
        Tensor h = ops.concat(List.of(clsB, patches), 1);                                        // [B, P, E]
        h = ops.add(h, v.get(ops, "embeddings.position_embedding.weight"));                      // [P, E] broadcast
        h = layerNorm(ops, v.sub("pre_layrnorm"), h, vision.layerNormEps());                    // (sic) HF's key name
        h = encoder(ops, v.sub("encoder"), h, vision.layers(), vision.heads(), vision.layerNormEps(), AttentionMask.NONE);
        Tensor cls = ops.reshape(ops.slice(h, 1, 0, 1), b, vision.hidden());                     // the class token [B, E]
        Tensor pooled = layerNorm(ops, v.sub("post_layernorm"), cls, vision.layerNormEps());
        return new VisionOutput(h, pooled);                                                      // [B, P, E], [B, E]
    }

    /** visual_projection (no bias): pooled [B, E] → [B, J]. */
    public Tensor projectImage(Ops ops, Tensor pooled) {
        return ops.linear(pooled, w.get(ops, "visual_projection.weight"), null);
    }

    /** exp(logit_scale) as a one-element tensor on {@code ops} (float32, as torch computes it). */
    public Tensor logitScale(Ops ops) {
        return ops.exp(w.get(ops, "logit_scale"));
    }

    /** The logits of CLIPModel.forward, both ways, from the projected embeddings. */
    public record Logits(Tensor perText, Tensor perImage, Tensor textNormalized, Tensor imageNormalized) { }

    /**
     * CLIPModel.forward's logits: logits_per_text [Bt, Bi] = exp(logit_scale) · normalize(text) · normalize(image)ᵀ,
     * and logits_per_image [Bi, Bt] its transpose (text [Bt, J] and image [Bi, J] embeddings).
     */
    public Logits logits(Ops ops, Tensor textEmbeds, Tensor imageEmbeds) {
        Tensor tn = ops.normalizeRows(textEmbeds), in = ops.normalizeRows(imageEmbeds);
        Tensor scale = logitScale(ops);
        Tensor perText = ops.mulScalar(ops.linear(tn, in, null), scale);                       // [Bt, Bi]
        Tensor perImage = ops.mulScalar(ops.linear(in, tn, null), scale);                      // [Bi, Bt]
        return new Logits(perText, perImage, tn, in);
    }

    /** CLIPEncoder: pre-LN layers of self-attention and a quick_gelu MLP. */
    private static Tensor encoder(Ops ops, Weights e, Tensor h, int layers, int heads, float eps, AttentionMask mask) {
        for (int l = 0; l < layers; l++) {
            Weights layer = e.sub("layers." + l);
            Tensor x = layerNorm(ops, layer.sub("layer_norm1"), h, eps);
            h = ops.add(h, selfAttention(ops, layer.sub("self_attn"), x, heads, mask));          // residual
            x = layerNorm(ops, layer.sub("layer_norm2"), h, eps);
            x = linear(ops, layer.sub("mlp.fc1"), x);                                            // [B, T, I]
            x = linear(ops, layer.sub("mlp.fc2"), ops.quickGelu(x));                             // [B, T, D]
            h = ops.add(h, x);
        }
        return h;
    }

    /** CLIPAttention: q, k, v and out_proj with bias; softmax(q·kᵀ·head_dim^−0.5 + mask)·v. */
    private static Tensor selfAttention(Ops ops, Weights a, Tensor x, int heads, AttentionMask mask) {
        Tensor q = linear(ops, a.sub("q_proj"), x);
        Tensor k = linear(ops, a.sub("k_proj"), x);
        Tensor v = linear(ops, a.sub("v_proj"), x);
        int width = q.shape()[2];
        float scale = (float) Math.pow(width / heads, -0.5);
        return linear(ops, a.sub("out_proj"), ops.attention(q, k, v, heads, scale, mask));
    }
}
