package dev.autodir.quant;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Which convolution and linear layers are quantized: every one whose weight key matches no exclusion pattern. The
 * defaults keep in FP16/FP32 what NVIDIA's diffusion quantization recipes keep (TensorRT Model Optimizer's SD
 * recipe: the first and last layers, the time embedding and every time projection, the skip projections and the
 * transformer output projections); norms and softmax are never quantized (they are not convolutions or linear layers).
 * Patterns are globs over the checkpoint key of the layer (without ".weight"): {@code *} matches within one
 * dot-separated name, {@code **} across names. Overridable per network from the command line.
 */
public final class QuantRecipe {
    /** The default exclusions per network, keyed by the checkpoint prefix. */
    public static final Map<String, List<String>> DEFAULT_EXCLUSIONS;

    static {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put("model.diffusion_model.", List.of(
                "model.diffusion_model.input_blocks.0.0",          // conv_in: 8 input channels
                "model.diffusion_model.time_embed.**",
                "model.diffusion_model.**.emb_layers.**",
                "model.diffusion_model.out.**",
                "model.diffusion_model.**.skip_connection",
                "model.diffusion_model.**.proj_out"));
        m.put("first_stage_model.", List.of(
                "first_stage_model.encoder.conv_in", "first_stage_model.encoder.conv_out",
                "first_stage_model.decoder.conv_in", "first_stage_model.decoder.conv_out",
                "first_stage_model.quant_conv", "first_stage_model.post_quant_conv",
                "first_stage_model.**.nin_shortcut",
                "first_stage_model.**.attn_1.**"));                 // the single 512-wide attention: kept precise
        m.put("NAFNet.", List.of(
                "NAFNet.intro", "NAFNet.ending",
                "NAFNet.**.sca.1",                                  // 1x1 on a pooled vector: no work to gain
                "NAFNet.**.conv2",                                  // depthwise 3x3: no integer product to gain
                "NAFNet.downs.*", "NAFNet.ups.*.0"));
        m.put("model_assessment.clipmodel.", List.of(
                "model_assessment.clipmodel.vision_model.embeddings.patch_embedding",
                "model_assessment.clipmodel.text_projection", "model_assessment.clipmodel.visual_projection"));
        DEFAULT_EXCLUSIONS = java.util.Collections.unmodifiableMap(m);
    }

    private final List<String> exclusions;
    private final List<Pattern> compiled = new ArrayList<>();

    public QuantRecipe(List<String> exclusions) {
        this.exclusions = List.copyOf(exclusions);
        for (String g : this.exclusions) compiled.add(glob(g));
    }

    /**
     * The defaults for every network plus {@code extra} exclusion patterns, without the default patterns listed in
     * {@code drop} (those layers are then quantized too; each must be one of the defaults, written as they are).
     */
    public static QuantRecipe defaults(List<String> extra, List<String> drop) {
        List<String> all = new ArrayList<>();
        DEFAULT_EXCLUSIONS.values().forEach(all::addAll);
        all.removeAll(drop);
        for (String d : drop) {
            if (!DEFAULT_EXCLUSIONS.values().stream().anyMatch(l -> l.contains(d))) {
                throw new IllegalArgumentException("--include " + d + ": not a default exclusion (defaults: " + DEFAULT_EXCLUSIONS + ")");
            }
        }
        all.addAll(extra);
        return new QuantRecipe(all);
    }

    public List<String> exclusions() { return exclusions; }

    /** Whether the layer whose weight is {@code weightKey} (ending in ".weight") is quantized. */
    public boolean quantizes(String weightKey) {
        String layer = weightKey.endsWith(".weight") ? weightKey.substring(0, weightKey.length() - ".weight".length()) : weightKey;
        for (Pattern p : compiled) if (p.matcher(layer).matches()) return false;
        return true;
    }

    static Pattern glob(String g) {
        if (g.isBlank()) throw new IllegalArgumentException("empty exclusion pattern");
        StringBuilder r = new StringBuilder();
        for (int i = 0; i < g.length(); i++) {
            char c = g.charAt(i);
            if (c == '*' && i + 1 < g.length() && g.charAt(i + 1) == '*') {
                r.append(".*");
                i++;
            } else if (c == '*') {
                r.append("[^.]*");
            } else {
                r.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(r.toString());
    }
}
