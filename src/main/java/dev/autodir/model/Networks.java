package dev.autodir.model;

import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.io.WeightStore;
import dev.autodir.model.clip.CLIP;
import dev.autodir.model.vae.VAE;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * The networks AutoDIR runs, each as a {@link Network} with its I/O contract: what a backend compiles, what
 * {@code export-onnx} writes and what an engine is built from. Names: {@code unet}, {@code vae-encode},
 * {@code vae-decode}, {@code scm}, {@code clip-text}, {@code clip-vision}, {@code biqa}.
 */
public final class Networks {
    /** The network names, in the order {@code --network all} exports them. */
    public static final List<String> NAMES = List.of("unet", "vae-encode", "vae-decode", "scm", "clip-text", "clip-vision", "biqa");

    private Networks() { }

    /** A network from its parts. */
    private record Definition(String name, List<TensorSpec> inputs, WeightStore weights,
                              BiFunction<Ops, Map<String, Tensor>, Map<String, Tensor>> body) implements Network {
        @Override public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> in) { return body.apply(ops, in); }

        @Override public String toString() { return describe(); }
    }

    private static Map<String, Tensor> outputs(Object... nameValue) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int i = 0; i < nameValue.length; i += 2) m.put((String) nameValue[i], (Tensor) nameValue[i + 1]);
        return m;
    }

    /** UNetModel.forward: x [B, inC, h, w], timesteps [B] (fractional), context [B, T, D] → eps [B, outC, h, w]. */
    public static Network unet(AutoDIRModels m, int batch, int h, int w, int tokens) {
        UNetConfig c = m.config().unet();
        return new Definition("unet", List.of(
                TensorSpec.float32("x", batch, c.inChannels(), h, w),
                TensorSpec.float32("timesteps", batch),
                TensorSpec.float32("context", batch, tokens, c.contextDim())),
                m.store(), (ops, in) -> outputs("eps", m.unet().forward(ops, in.get("x"), in.get("timesteps"), in.get("context"))));
    }

    /** AutoencoderKL.encode: image [B, 3, H, W] in [-1, 1] → moments [B, 2E, h, w], mean and clamped logvar [B, E, h, w]. */
    public static Network vaeEncode(AutoDIRModels m, int batch, int height, int width) {
        VAEConfig c = m.config().vae();
        return new Definition("vae-encode", List.of(TensorSpec.float32("image", batch, c.inChannels(), height, width)), m.store(),
                (ops, in) -> {
                    VAE.Posterior p = m.vae().encode(ops, in.get("image"));
                    return outputs("moments", p.moments(), "mean", p.mean(), "logvar", p.logvarClamped());
                });
    }

    /** decode_first_stage: z [B, E, h, w] in scaled latent space (÷ scale_factor inside) → image [B, 3, h·f, w·f]. */
    public static Network vaeDecode(AutoDIRModels m, int batch, int h, int w) {
        VAEConfig c = m.config().vae();
        double scale = m.config().schedule().scaleFactor();
        return new Definition("vae-decode", List.of(TensorSpec.float32("z", batch, c.embedDim(), h, w)), m.store(),
                (ops, in) -> outputs("image", m.vae().decodeFirstStage(ops, in.get("z"), scale)));
    }

    /** NAFNet_Combine: input [B, 6, H, W] = cat(degraded, decoded), scm_weight [1] → output [B, 3, H, W]. */
    public static Network scm(AutoDIRModels m, int batch, int height, int width) {
        NAFNetConfig c = m.config().nafnet();
        return new Definition("scm", List.of(TensorSpec.float32("input", batch, c.imgChannels(), height, width),
                TensorSpec.float32("scm_weight", 1)), m.store(),
                (ops, in) -> outputs("output", m.nafnet().forward(ops, in.get("input"), in.get("scm_weight"))));
    }

    /**
     * The CLIP text tower: input_ids and attention_mask int32 [B, T] (a mask of ones is the same as none) →
     * last_hidden_state [B, T, D], pooled [B, D], text_embeds [B, J].
     */
    public static Network clipText(AutoDIRModels m, int batch, int tokens) {
        return new Definition("clip-text", List.of(TensorSpec.int32("input_ids", batch, tokens), TensorSpec.int32("attention_mask", batch, tokens)),
                m.store(), (ops, in) -> {
                    CLIP.TextOutput t = m.clip().encodeText(ops, in.get("input_ids"), in.get("attention_mask"));
                    return outputs("last_hidden_state", t.lastHiddenState(), "pooled", t.pooled(), "text_embeds", m.clip().projectText(ops, t.pooled()));
                });
    }

    /** The CLIP vision tower: pixel_values [B, 3, S, S] → last_hidden_state [B, P, E], pooled [B, E], image_embeds [B, J]. */
    public static Network clipVision(AutoDIRModels m, int batch) {
        int s = m.config().clipVision().imageSize();
        return new Definition("clip-vision", List.of(TensorSpec.float32("pixel_values", batch, 3, s, s)), m.store(), (ops, in) -> {
            CLIP.VisionOutput v = m.clip().encodeImage(ops, in.get("pixel_values"));
            return outputs("last_hidden_state", v.lastHiddenState(), "pooled", v.pooled(), "image_embeds", m.clip().projectImage(ops, v.pooled()));
        });
    }

    /**
     * CLIPModel.forward's logits: input_ids and attention_mask int32 [K, T], pixel_values [B, 3, S, S] →
     * logits_per_text [K, B], logits_per_image [B, K], and the normalised embeddings.
     */
    public static Network clipModel(AutoDIRModels m, int prompts, int tokens, int images) {
        int s = m.config().clipVision().imageSize();
        return new Definition("clip-model", List.of(TensorSpec.int32("input_ids", prompts, tokens), TensorSpec.int32("attention_mask", prompts, tokens),
                TensorSpec.float32("pixel_values", images, 3, s, s)), m.store(), (ops, in) -> {
                    CLIP.Logits l = logits(m.clip(), ops, in);
                    return outputs("logits_per_text", l.perText(), "logits_per_image", l.perImage(),
                            "text_embeds_normalized", l.textNormalized(), "image_embeds_normalized", l.imageNormalized());
                });
    }

    private static CLIP.Logits logits(CLIP clip, Ops ops, Map<String, Tensor> in) {
        CLIP.TextOutput t = clip.encodeText(ops, in.get("input_ids"), in.get("attention_mask"));
        CLIP.VisionOutput v = clip.encodeImage(ops, in.get("pixel_values"));
        return clip.logits(ops, clip.projectText(ops, t.pooled()), clip.projectImage(ops, v.pooled()));
    }

    /**
     * BIQA ({@code CLIPEmbedder.forward} + {@code predict_logit}) for K prompts: input_ids and attention_mask int32
     * [K, T], pixel_values [1, 3, S, S], class_bias [1, K] (0 for a class still in play, −∞ for one already removed) →
     * logits_per_image [1, K], probs [1, K] = softmax(logits + class_bias), and c_crossattn [1, T, D] = Σ_k p_k · H_k
     * (the prompts' last hidden states). A removed class gets probability exactly 0, so the mixture and the
     * probabilities of the others are those of the official code over the remaining prompts.
     */
    public static Network biqa(AutoDIRModels m, int prompts, int tokens) {
        int s = m.config().clipVision().imageSize();
        int d = m.config().clipText().hidden();
        return new Definition("biqa", List.of(TensorSpec.int32("input_ids", prompts, tokens), TensorSpec.int32("attention_mask", prompts, tokens),
                TensorSpec.float32("pixel_values", 1, 3, s, s), TensorSpec.float32("class_bias", 1, prompts)), m.store(), (ops, in) -> {
                    CLIP clip = m.clip();
                    CLIP.TextOutput t = clip.encodeText(ops, in.get("input_ids"), in.get("attention_mask"));       // hidden [K, T, D]
                    CLIP.VisionOutput v = clip.encodeImage(ops, in.get("pixel_values"));
                    CLIP.Logits l = clip.logits(ops, clip.projectText(ops, t.pooled()), clip.projectImage(ops, v.pooled()));
                    Tensor probs = ops.softmax(ops.add(l.perImage(), in.get("class_bias")));                    // [1, K]
                    Tensor mix = ops.matmul(probs, ops.reshape(t.lastHiddenState(), prompts, tokens * d));    // torch.mm(probs, H.reshape(K, -1))
                    return outputs("logits_per_image", l.perImage(), "probs", probs, "c_crossattn", ops.reshape(mix, 1, tokens, d));
                });
    }

    /**
     * The network {@code name} at the sizes a benchmark or an export uses: images of {@code size}² pixels (the latent
     * is size / the VAE's factor), batch 1, CLIP's own sizes; {@code biqa} scores the 8 official prompts.
     */
    public static Network forExport(String name, AutoDIRModels m, int size) {
        int f = m.config().vae().downsampleFactor();
        int tokens = m.config().clipText().maxPositions();
        int multiple = m.sizeMultiple();
        if (size < multiple || size % multiple != 0) {
            throw new IllegalArgumentException("--size " + size + " must be a positive multiple of " + multiple + " (the networks' size multiple)");
        }
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "unet" -> unet(m, 1, size / f, size / f, tokens);
            case "vae-encode" -> vaeEncode(m, 1, size, size);
            case "vae-decode" -> vaeDecode(m, 1, size / f, size / f);
            case "scm" -> scm(m, 1, size, size);
            case "clip-text" -> clipText(m, 1, tokens);
            case "clip-vision" -> clipVision(m, 1);
            case "biqa" -> biqa(m, 8, tokens);
            default -> throw new IllegalArgumentException("unknown network \"" + name + "\" (networks: " + String.join(", ", NAMES) + ")");
        };
    }
}
