package dev.autodir.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each value of an inferred config came from (the tensor shapes, the YAML config, or the official default
 * because shapes cannot tell it), and the YAML config template that {@code autodir inspect --config-template} writes:
 * every value in the layout of {@code configs/generate.yaml}, each marked with its source, and a {@code FILL_IN}
 * placeholder (which {@link ModelYaml} rejects by name) where a value must be chosen.
 */
public final class ConfigSources {
    private ConfigSources() { }

    /** What tells a value. */
    public enum Source {
        WEIGHTS("from the weights"), CONFIG("from the config"), DEFAULT("official default: shapes cannot tell it");

        private final String text;

        Source(String text) { this.text = text; }

        public String text() { return text; }
    }

    /** The placeholder of a value to be chosen. */
    public static final String FILL_IN = "FILL_IN";

    /**
     * One value of a network's config.
     *
     * @param network   the network's name as inspect prints it ("UNet", "CLIP text", ...)
     * @param component the config record's component ("numHeads")
     * @param key       the YAML key, dotted ({@code model.params.unet_config.params.num_heads})
     * @param value     the value, in YAML terms (ldm's attention_resolutions rather than our attention levels)
     * @param source    where it came from
     */
    public record Entry(String network, String component, String key, Object value, Source source) { }

    /** Every value of the inferred networks and of the schedule, in the order inspect prints them. */
    public static List<Entry> entries(ConfigInference.Inference r, ModelYaml y) {
        List<Entry> out = new ArrayList<>();
        Sink e = (network, component, key, value, shapesTell) ->
                out.add(new Entry(network, component, key, value, y.has(key) ? Source.CONFIG : shapesTell ? Source.WEIGHTS : Source.DEFAULT));
        String u = ModelYaml.UNET;
        if (r.unet() != null) {
            UNetConfig c = r.unet();
            e.add("UNet", "inChannels", u + "in_channels", c.inChannels(), true);
            e.add("UNet", "outChannels", u + "out_channels", c.outChannels(), true);
            e.add("UNet", "modelChannels", u + "model_channels", c.modelChannels(), true);
            e.add("UNet", "channelMult", u + "channel_mult", c.channelMult(), true);
            e.add("UNet", "numResBlocks", u + "num_res_blocks", c.numResBlocks(), true);
            List<Integer> resolutions = new ArrayList<>();
            for (int level : c.attentionLevels()) resolutions.add(1 << level);
            e.add("UNet", "attentionLevels", u + "attention_resolutions", resolutions, true);
            if (c.numHeads() > 0) e.add("UNet", "numHeads", u + "num_heads", c.numHeads(), false);
            if (c.numHeadChannels() > 0) e.add("UNet", "numHeadChannels", u + "num_head_channels", c.numHeadChannels(), false);
            e.add("UNet", "transformerDepth", u + "transformer_depth", c.transformerDepth(), true);
            e.add("UNet", "contextDim", u + "context_dim", c.contextDim(), true);
            e.add("UNet", "useLinearProjection", u + "use_linear_in_transformer", c.useLinearProjection(), true);
        }
        if (r.vae() != null) {
            VAEConfig c = r.vae();
            String d = ModelYaml.VAE_DD;
            e.add("VAE", "inChannels", d + "in_channels", c.inChannels(), true);
            e.add("VAE", "outChannels", d + "out_ch", c.outChannels(), true);
            e.add("VAE", "ch", d + "ch", c.ch(), true);
            e.add("VAE", "chMult", d + "ch_mult", c.chMult(), true);
            e.add("VAE", "numResBlocks", d + "num_res_blocks", c.numResBlocks(), true);
            e.add("VAE", "zChannels", d + "z_channels", c.zChannels(), true);
            e.add("VAE", "embedDim", ModelYaml.VAE + "embed_dim", c.embedDim(), true);
            e.add("VAE", "doubleZ", d + "double_z", c.doubleZ(), true);
        }
        if (r.clipText() != null) {
            CLIPTextConfig c = r.clipText();
            String t = ModelYaml.CLIP_TEXT;
            e.add("CLIP text", "vocabSize", t + "vocab_size", c.vocabSize(), true);
            e.add("CLIP text", "hidden", t + "hidden_size", c.hidden(), true);
            e.add("CLIP text", "intermediate", t + "intermediate_size", c.intermediate(), true);
            e.add("CLIP text", "layers", t + "num_hidden_layers", c.layers(), true);
            e.add("CLIP text", "heads", t + "num_attention_heads", c.heads(), false);
            e.add("CLIP text", "maxPositions", t + "max_position_embeddings", c.maxPositions(), true);
            e.add("CLIP text", "projectionDim", ModelYaml.CLIP + "projection_dim", c.projectionDim(), true);
            e.add("CLIP text", "layerNormEps", t + "layer_norm_eps", c.layerNormEps(), false);
        }
        if (r.clipVision() != null) {
            CLIPVisionConfig c = r.clipVision();
            String v = ModelYaml.CLIP_VISION;
            e.add("CLIP vision", "hidden", v + "hidden_size", c.hidden(), true);
            e.add("CLIP vision", "intermediate", v + "intermediate_size", c.intermediate(), true);
            e.add("CLIP vision", "layers", v + "num_hidden_layers", c.layers(), true);
            e.add("CLIP vision", "heads", v + "num_attention_heads", c.heads(), false);
            e.add("CLIP vision", "imageSize", v + "image_size", c.imageSize(), true);
            e.add("CLIP vision", "patchSize", v + "patch_size", c.patchSize(), true);
            e.add("CLIP vision", "projectionDim", ModelYaml.CLIP + "projection_dim", c.projectionDim(), true);
            e.add("CLIP vision", "layerNormEps", v + "layer_norm_eps", c.layerNormEps(), false);
        }
        if (r.nafnet() != null) {
            NAFNetConfig c = r.nafnet();
            String n = ModelYaml.SCM;
            e.add("SCM (NAFNet)", "imgChannels", n + "img_channel", c.imgChannels(), true);
            e.add("SCM (NAFNet)", "width", n + "width", c.width(), true);
            e.add("SCM (NAFNet)", "encBlocks", n + "enc_blk_nums", c.encBlocks(), true);
            e.add("SCM (NAFNet)", "middleBlocks", n + "middle_blk_num", c.middleBlocks(), true);
            e.add("SCM (NAFNet)", "decBlocks", n + "dec_blk_nums", c.decBlocks(), true);
        }
        ScheduleConfig s = r.schedule();
        String p = ModelYaml.PARAMS;
        e.add("schedule", "linearStart", p + "linear_start", s.linearStart(), false);
        e.add("schedule", "linearEnd", p + "linear_end", s.linearEnd(), false);
        e.add("schedule", "timesteps", p + "timesteps", s.timesteps(), r.scheduleFromBuffer());
        e.add("schedule", "scaleFactor", p + "scale_factor", s.scaleFactor(), false);
        return out;
    }

    /** The entry of a network's component, or null. */
    public static Entry find(List<Entry> entries, String network, String component) {
        for (Entry x : entries) if (x.network().equals(network) && x.component().equals(component)) return x;
        return null;
    }

    /**
     * A YAML config in the layout of configs/generate.yaml with every value of {@code entries}, each commented with its
     * source; a key with a problem gets {@link #FILL_IN} and the problem as its comment.
     */
    public static String template(List<Entry> entries, List<ConfigInference.HeadProblem> problems, String checkpoint) {
        Map<String, String> problemOf = new LinkedHashMap<>();
        for (ConfigInference.HeadProblem hp : problems) problemOf.putIfAbsent(hp.key(), hp.message());
        // the tree of keys below model.params, in the order of first appearance
        Node root = new Node();
        for (Entry x : entries) {
            String problem = problemOf.remove(x.key());
            String value = problem != null ? FILL_IN : yaml(x.value());
            String comment = problem != null ? "FILL IN: " + problem : x.source().text();
            root.put(x.key().substring(ModelYaml.PARAMS.length()), value, comment);
        }
        for (Map.Entry<String, String> left : problemOf.entrySet()) {
            root.put(left.getKey().substring(ModelYaml.PARAMS.length()), FILL_IN, "FILL IN: " + left.getValue());
        }
        StringBuilder b = new StringBuilder();
        b.append("# AutoDIR config for ").append(checkpoint).append(", written by autodir inspect --config-template.\n");
        b.append("# Values \"from the weights\" are what the tensor shapes say; an \"official default\" is AutoDIR's value for\n");
        b.append("# what shapes cannot tell (check it against the model's training config)")
                .append(problems.isEmpty() ? ".\n" : "; replace every " + FILL_IN + ".\n");
        b.append("model:\n  params:\n");
        root.render(b, 2);
        return b.toString();
    }

    private static String yaml(Object v) {
        if (v instanceof List<?> l) {
            List<String> parts = new ArrayList<>();
            for (Object o : l) parts.add(String.valueOf(o));
            return "[" + String.join(", ", parts) + "]";
        }
        if (v instanceof Float f) return Float.toString(f);       // 1.0E-5: a float in YAML 1.1 too (it needs the dot)
        if (v instanceof Double d) return Double.toString(d);
        return String.valueOf(v);
    }

    @FunctionalInterface
    private interface Sink {
        void add(String network, String component, String key, Object value, boolean shapesTell);
    }

    /** A YAML mapping being built: leaves (value and comment) and sub-mappings, in insertion order. */
    private static final class Node {
        private final Map<String, Object> children = new LinkedHashMap<>();

        void put(String dotted, String value, String comment) {
            int dot = dotted.indexOf('.');
            if (dot < 0) {
                children.put(dotted, new String[] {value, comment});
                return;
            }
            Object child = children.computeIfAbsent(dotted.substring(0, dot), k -> new Node());
            ((Node) child).put(dotted.substring(dot + 1), value, comment);
        }

        void render(StringBuilder b, int depth) {
            String indent = "  ".repeat(depth);
            for (Map.Entry<String, Object> c : children.entrySet()) {
                if (c.getValue() instanceof Node n) {
                    b.append(indent).append(c.getKey()).append(":\n");
                    n.render(b, depth + 1);
                } else {
                    String[] leaf = (String[]) c.getValue();
                    b.append(indent).append(c.getKey()).append(": ").append(leaf[0]).append("  # ").append(leaf[1]).append('\n');
                }
            }
        }
    }
}
