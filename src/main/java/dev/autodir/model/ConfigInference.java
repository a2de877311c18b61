package dev.autodir.model;

import dev.autodir.io.CheckpointException;
import dev.autodir.io.TensorInfo;
import dev.autodir.io.WeightStore;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Network configurations inferred from tensor shapes (no tensor data is read, except the
 * {@code alphas_cumprod} schedule buffer), completed by an official-style YAML config for what shapes
 * cannot tell (UNet and CLIP head counts, layer-norm epsilons, the schedule when its buffer is absent),
 * and then validated: every weight the config implies must exist with its shape, and no unknown weight
 * may sit under a network's prefix.
 *
 * <p>Where the YAML gives a value that shapes also tell (channels, levels, block counts, ...), the YAML
 * value is used, so a config that disagrees with the weights fails validation with the key, the expected
 * and the actual shape. Without a YAML file, such values come from the weights and the others from the
 * official defaults.
 */
public final class ConfigInference {
    private ConfigInference() { }

    public static final String UNET_PREFIX = "model.diffusion_model.";
    public static final String VAE_PREFIX = "first_stage_model.";
    public static final String CLIP_PREFIX = "model_assessment.clipmodel.";
    public static final String SCM_PREFIX = "NAFNet.";
    public static final String ALPHAS_CUMPROD = "alphas_cumprod";

    /** One network found in a checkpoint: its config record and the weights (full keys) it binds. */
    public record Network(String name, String prefix, Record config, Map<String, int[]> weights) { }

    /**
     * What a checkpoint holds. Absent networks are null (and missing from {@code networks});
     * {@code unusedKeys} are the keys no network binds (schedule buffers, position_ids, ...).
     */
    public record Inference(UNetConfig unet, VAEConfig vae, CLIPTextConfig clipText, CLIPVisionConfig clipVision,
                            NAFNetConfig nafnet, ScheduleConfig schedule, boolean scheduleFromBuffer,
                            List<Network> networks, List<String> unusedKeys) {

        /** All networks, as the pipeline needs them; throws naming the first network that is missing. */
        public AutoDIRConfig toConfig(WeightStore store) {
            requirePresent(store, unet, "UNet", UNET_PREFIX);
            requirePresent(store, vae, "VAE", VAE_PREFIX);
            requirePresent(store, clipText, "CLIP text tower", CLIP_PREFIX + "text_model.");
            requirePresent(store, clipVision, "CLIP vision tower", CLIP_PREFIX + "vision_model.");
            requirePresent(store, nafnet, "SCM (NAFNet)", SCM_PREFIX);
            return new AutoDIRConfig(unet, vae, clipText, clipVision, nafnet, schedule);
        }

        private static void requirePresent(WeightStore store, Object config, String name, String prefix) {
            if (config == null) throw new CheckpointException(store.path(), "no " + name + " weights (no key starts with " + prefix + ")");
        }
    }

    /** Every network AutoDIR needs, inferred and validated. */
    public static AutoDIRConfig infer(WeightStore store, ModelYaml yaml) {
        return inspect(store, yaml).toConfig(store);
    }

    /** The networks present in the checkpoint, inferred and validated. */
    public static Inference inspect(WeightStore store, ModelYaml yaml) {
        Inference r = survey(store, yaml);
        List<HeadProblem> problems = headProblems(store, yaml, r);
        if (!problems.isEmpty()) throw problems.get(0).exception();
        return r;
    }

    /**
     * A head count that cannot be used: the YAML key that sets it and the problem.
     *
     * @param key     the dotted YAML key ({@code model.params.unet_config.params.num_heads}, ...)
     * @param message the whole one-line error, naming the file, the problem and where the value came from
     */
    public record HeadProblem(String key, String message) {
        public ConfigException exception() { return new ConfigException(message); }
    }

    /**
     * As {@link #inspect} but without checking the head counts, which shapes cannot tell (see {@link #headProblems}):
     * for {@code autodir inspect}, which shows what it inferred even when a head count is wrong.
     */
    public static Inference survey(WeightStore store, ModelYaml yaml) {
        checkSupported(yaml);
        Shapes s = new Shapes(store);
        UNetConfig unet = s.any(UNET_PREFIX) ? valid(store, yaml, () -> unet(s, yaml)) : null;
        VAEConfig vae = s.any(VAE_PREFIX) ? valid(store, yaml, () -> vae(s, yaml)) : null;
        CLIPTextConfig text = s.any(CLIP_PREFIX + "text_model.") ? valid(store, yaml, () -> clipText(s, yaml)) : null;
        CLIPVisionConfig vision = s.any(CLIP_PREFIX + "vision_model.") ? valid(store, yaml, () -> clipVision(s, yaml)) : null;
        NAFNetConfig nafnet = s.any(SCM_PREFIX) ? valid(store, yaml, () -> nafnet(s, yaml)) : null;

        List<Network> networks = new ArrayList<>();
        if (unet != null) networks.add(network("UNet", UNET_PREFIX, unet, WeightLayout.unet(unet)));
        if (vae != null) networks.add(network("VAE", VAE_PREFIX, vae, WeightLayout.vae(vae)));
        if (text != null) networks.add(network("CLIP text", CLIP_PREFIX, text, WeightLayout.clipText(text)));
        if (vision != null) networks.add(network("CLIP vision", CLIP_PREFIX, vision, WeightLayout.clipVision(vision)));
        if (nafnet != null) networks.add(network("SCM (NAFNet)", SCM_PREFIX, nafnet, WeightLayout.nafnet(nafnet)));
        Map<String, int[]> buffers = prefixed(CLIP_PREFIX, WeightLayout.clipBuffers(text, vision));
        validate(store, networks, buffers);

        boolean fromBuffer = store.contains(ALPHAS_CUMPROD);
        ScheduleConfig schedule = schedule(store, yaml);

        Set<String> bound = new LinkedHashSet<>();
        for (Network n : networks) bound.addAll(n.weights().keySet());
        List<String> unused = new ArrayList<>();
        for (String k : store.keys()) if (!bound.contains(k)) unused.add(k);
        return new Inference(unet, vae, text, vision, nafnet, schedule, fromBuffer, List.copyOf(networks),
                Collections.unmodifiableList(unused));
    }

    /** A config record from the weights' shapes and the YAML; a value out of its range names both sources. */
    private static <T> T valid(WeightStore store, ModelYaml y, java.util.function.Supplier<T> make) {
        try {
            return make.get();
        } catch (ConfigException | CheckpointException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ConfigException(store.path() + " (config: " + y.source() + "): " + e.getMessage());
        }
    }

    private static Network network(String name, String prefix, Record config, Map<String, int[]> relative) {
        return new Network(name, prefix, config, prefixed(prefix, relative));
    }

    private static Map<String, int[]> prefixed(String prefix, Map<String, int[]> relative) {
        Map<String, int[]> m = new LinkedHashMap<>();
        relative.forEach((k, v) -> m.put(prefix + k, v));
        return Collections.unmodifiableMap(m);
    }

    // ---- UNet -------------------------------------------------------------------------------

    static UNetConfig unet(Shapes s, ModelYaml y) {
        String p = UNET_PREFIX;
        String c = ModelYaml.UNET;
        TensorInfo first = s.need(p + "input_blocks.0.0.weight", 4, "the UNet's model_channels");
        int mc = first.dim(0);
        int in = first.dim(1);
        int out = s.need(p + "out.2.weight", 4, "the UNet's out_channels").dim(0);

        // input blocks: per level num_res_blocks ResBlocks (optionally with a transformer), then a Downsample
        List<Integer> mult = new ArrayList<>();
        List<Integer> perLevel = new ArrayList<>();
        Set<Integer> attention = new TreeSet<>();
        int count = 0;
        for (int idx : s.indices(p + "input_blocks.")) {
            if (idx == 0) continue;
            String b = p + "input_blocks." + idx;
            if (s.has(b + ".0.op.weight")) {
                perLevel.add(count);
                count = 0;
                continue;
            }
            TensorInfo conv = s.need(b + ".0.in_layers.2.weight", 4, "the UNet's channel_mult");
            if (count == 0) mult.add(s.multiple(conv, 0, mc, "model_channels"));
            if (s.has(b + ".1.norm.weight")) attention.add(mult.size() - 1);
            count++;
        }
        perLevel.add(count);
        if (mult.size() != perLevel.size() || perLevel.contains(0)) {
            throw s.fail("UNet input blocks do not form levels of ResBlocks separated by Downsamples (blocks per level "
                    + perLevel + ")");
        }
        if (new TreeSet<>(perLevel).size() != 1) {
            throw s.fail("UNet levels have different numbers of res blocks " + perLevel + "; num_res_blocks must be one number");
        }
        String mid = p + "middle_block.1.";
        int depth = s.indices(mid + "transformer_blocks.").size();
        TensorInfo toK = s.need(mid + "transformer_blocks.0.attn2.to_k.weight", 2, "the UNet's context_dim");
        boolean linear = s.need(mid + "proj_in.weight", -1, "use_linear_in_transformer").rank() == 2;

        List<Integer> attentionLevels = y.ints(c + "attention_resolutions")
                .map(r -> levelsOf(y, c + "attention_resolutions", r)).orElse(List.copyOf(attention));
        int nhc = y.integer(c + "num_head_channels").orElse(-1);
        int heads = y.integer(c + "num_heads").orElse(-1);
        // ldm, legacy=False: num_head_channels wins when set; with neither set, the official num_heads
        if (nhc != -1) heads = -1;
        else if (heads == -1) heads = UNetConfig.official().numHeads();
        return new UNetConfig(
                y.integer(c + "in_channels").orElse(in),
                y.integer(c + "out_channels").orElse(out),
                y.integer(c + "model_channels").orElse(mc),
                y.ints(c + "channel_mult").orElse(mult),
                y.integer(c + "num_res_blocks").orElse(perLevel.get(0)),
                attentionLevels, heads, nhc,
                y.integer(c + "transformer_depth").orElse(depth),
                y.integer(c + "context_dim").orElse(toK.dim(1)),
                y.bool(c + "use_linear_in_transformer").orElse(linear));
    }

    /** ldm's attention_resolutions are downsampling factors 2^level. */
    private static List<Integer> levelsOf(ModelYaml y, String key, List<Integer> resolutions) {
        List<Integer> levels = new ArrayList<>();
        for (int r : resolutions) {
            if (r < 1 || Integer.bitCount(r) != 1) throw y.unsupported(key, "resolution " + r + " is not a power of two");
            levels.add(Integer.numberOfTrailingZeros(r));
        }
        return levels.stream().sorted().distinct().toList();
    }

    // ---- VAE --------------------------------------------------------------------------------

    static VAEConfig vae(Shapes s, ModelYaml y) {
        String p = VAE_PREFIX;
        String c = ModelYaml.VAE_DD;
        TensorInfo convIn = s.need(p + "encoder.conv_in.weight", 4, "the VAE's ch");
        int ch = convIn.dim(0);
        int levels = s.indices(p + "encoder.down.").size();
        List<Integer> mult = new ArrayList<>();
        for (int i = 0; i < levels; i++) {
            mult.add(s.multiple(s.need(p + "encoder.down." + i + ".block.0.conv1.weight", 4, "the VAE's ch_mult"), 0, ch, "ch"));
        }
        int resBlocks = s.indices(p + "encoder.down.0.block.").size();
        int z = s.need(p + "decoder.conv_in.weight", 4, "the VAE's z_channels").dim(1);
        boolean doubleZ = s.need(p + "encoder.conv_out.weight", 4, "the VAE's double_z").dim(0) == 2 * z;
        int embed = s.need(p + "post_quant_conv.weight", 4, "the VAE's embed_dim").dim(1);
        int outCh = s.need(p + "decoder.conv_out.weight", 4, "the VAE's out_ch").dim(0);
        if (y.ints(c + "attn_resolutions").map(l -> !l.isEmpty()).orElse(false)) {
            throw y.unsupported(c + "attn_resolutions", "attention outside the mid blocks is not supported (AutoDIR uses [])");
        }
        return new VAEConfig(
                y.integer(c + "in_channels").orElse(convIn.dim(1)),
                y.integer(c + "out_ch").orElse(outCh),
                y.integer(c + "ch").orElse(ch),
                y.ints(c + "ch_mult").orElse(mult),
                y.integer(c + "num_res_blocks").orElse(resBlocks),
                y.integer(c + "z_channels").orElse(z),
                y.integer(ModelYaml.VAE + "embed_dim").orElse(embed),
                y.bool(c + "double_z").orElse(doubleZ));
    }

    // ---- CLIP -------------------------------------------------------------------------------

    static CLIPTextConfig clipText(Shapes s, ModelYaml y) {
        String p = CLIP_PREFIX + "text_model.";
        String c = ModelYaml.CLIP_TEXT;
        TensorInfo tok = s.need(p + "embeddings.token_embedding.weight", 2, "the CLIP text vocabulary and width");
        int positions = s.need(p + "embeddings.position_embedding.weight", 2, "the CLIP text positions").dim(0);
        int layers = s.indices(p + "encoder.layers.").size();
        int inter = s.need(p + "encoder.layers.0.mlp.fc1.weight", 2, "the CLIP text intermediate size").dim(0);
        int proj = s.need(CLIP_PREFIX + "text_projection.weight", 2, "the CLIP projection dim").dim(0);
        CLIPTextConfig official = CLIPTextConfig.official();
        return new CLIPTextConfig(
                y.integer(c + "vocab_size").orElse(tok.dim(0)),
                y.integer(c + "hidden_size").orElse(tok.dim(1)),
                y.integer(c + "intermediate_size").orElse(inter),
                y.integer(c + "num_hidden_layers").orElse(layers),
                y.integer(c + "num_attention_heads").orElse(official.heads()),
                y.integer(c + "max_position_embeddings").orElse(positions),
                y.integer(ModelYaml.CLIP + "projection_dim").orElse(proj),
                y.number(c + "layer_norm_eps").map(Double::floatValue).orElse(official.layerNormEps()));
    }

    static CLIPVisionConfig clipVision(Shapes s, ModelYaml y) {
        String p = CLIP_PREFIX + "vision_model.";
        String c = ModelYaml.CLIP_VISION;
        String posKey = p + "embeddings.position_embedding.weight";
        TensorInfo patch = s.need(p + "embeddings.patch_embedding.weight", 4, "the CLIP vision width and patch size");
        int positions = s.need(posKey, 2, "the CLIP vision image size").dim(0);
        int patches = positions - 1;
        int side = (int) Math.round(Math.sqrt(Math.max(patches, 0)));
        if (patches < 1 || side * side != patches) {
            throw s.fail(posKey + ": " + positions + " positions = class token + " + patches + " patches, not a square grid");
        }
        int layers = s.indices(p + "encoder.layers.").size();
        int inter = s.need(p + "encoder.layers.0.mlp.fc1.weight", 2, "the CLIP vision intermediate size").dim(0);
        int proj = s.need(CLIP_PREFIX + "visual_projection.weight", 2, "the CLIP projection dim").dim(0);
        CLIPVisionConfig official = CLIPVisionConfig.official();
        return new CLIPVisionConfig(
                y.integer(c + "hidden_size").orElse(patch.dim(0)),
                y.integer(c + "intermediate_size").orElse(inter),
                y.integer(c + "num_hidden_layers").orElse(layers),
                y.integer(c + "num_attention_heads").orElse(official.heads()),
                y.integer(c + "image_size").orElse(side * patch.dim(2)),
                y.integer(c + "patch_size").orElse(patch.dim(2)),
                y.integer(ModelYaml.CLIP + "projection_dim").orElse(proj),
                y.number(c + "layer_norm_eps").map(Double::floatValue).orElse(official.layerNormEps()));
    }

    // ---- SCM (NAFNet) -----------------------------------------------------------------------

    static NAFNetConfig nafnet(Shapes s, ModelYaml y) {
        String p = SCM_PREFIX;
        String c = ModelYaml.SCM;
        TensorInfo intro = s.need(p + "intro.weight", 4, "the NAFNet width");
        int levels = s.indices(p + "downs.").size();
        int upLevels = s.indices(p + "ups.").size();
        if (levels != upLevels) {
            throw s.fail("NAFNet has " + levels + " encoder levels (" + p + "downs.*) but " + upLevels + " decoder levels ("
                    + p + "ups.*)");
        }
        List<Integer> enc = new ArrayList<>();
        List<Integer> dec = new ArrayList<>();
        for (int i = 0; i < levels; i++) {
            enc.add(s.indices(p + "encoders." + i + ".").size());
            dec.add(s.indices(p + "decoders." + i + ".").size());
        }
        return new NAFNetConfig(
                y.integer(c + "img_channel").orElse(intro.dim(1)),
                y.integer(c + "width").orElse(intro.dim(0)),
                y.ints(c + "enc_blk_nums").orElse(enc),
                y.integer(c + "middle_blk_num").orElse(s.indices(p + "middle_blks.").size()),
                y.ints(c + "dec_blk_nums").orElse(dec));
    }

    // ---- schedule ---------------------------------------------------------------------------

    static ScheduleConfig schedule(WeightStore store, ModelYaml y) {
        ScheduleConfig official = ScheduleConfig.official();
        double start = y.number(ModelYaml.PARAMS + "linear_start").orElse(official.linearStart());
        double end = y.number(ModelYaml.PARAMS + "linear_end").orElse(official.linearEnd());
        double scale = y.number(ModelYaml.PARAMS + "scale_factor").orElse(official.scaleFactor());
        if (!store.contains(ALPHAS_CUMPROD)) {
            int steps = y.integer(ModelYaml.PARAMS + "timesteps").orElse(official.timesteps());
            return schedule(y, () -> ScheduleConfig.fromLinear(start, end, steps, scale));
        }
        TensorInfo info = store.info(ALPHAS_CUMPROD);
        if (info.numel() > ScheduleConfig.MAX_TIMESTEPS) {
            throw new CheckpointException(store.path(), ALPHAS_CUMPROD + " " + Arrays.toString(info.shape()) + " has more than "
                    + ScheduleConfig.MAX_TIMESTEPS + " entries (the official schedule has 1000); not reading it");
        }
        int steps = y.integer(ModelYaml.PARAMS + "timesteps").orElse(info.rank() == 1 ? info.dim(0) : -1);
        if (info.rank() != 1 || info.dim(0) != steps || steps < 1) {
            throw new CheckpointException(store.path(), ALPHAS_CUMPROD + ": expected shape [" + steps + "], actual "
                    + Arrays.toString(info.shape()));
        }
        if (!info.dtype().isFloat()) {
            throw new CheckpointException(store.path(), ALPHAS_CUMPROD + ": expected a float tensor, actual " + info.dtype());
        }
        float[] ac = store.readFloat(ALPHAS_CUMPROD).data();
        for (int i = 0; i < ac.length; i++) {
            if (!(ac[i] > 0f && ac[i] <= 1f)) {
                throw new CheckpointException(store.path(), ALPHAS_CUMPROD + "[" + i + "] = " + ac[i] + " is outside (0, 1]");
            }
        }
        return schedule(y, () -> new ScheduleConfig(start, end, steps, scale, ac));
    }

    /** Builds a config record; a value out of its range is a ConfigException naming the config file. */
    private static <T> T schedule(ModelYaml y, java.util.function.Supplier<T> make) {
        try {
            return make.get();
        } catch (IllegalArgumentException e) {
            throw new ConfigException(y.source() + ": " + e.getMessage());
        }
    }

    // ---- checks -----------------------------------------------------------------------------

    private static void checkSupported(ModelYaml y) {
        String u = ModelYaml.UNET;
        if (!y.bool(u + "use_spatial_transformer").orElse(true)) {
            throw y.unsupported(u + "use_spatial_transformer", "only the spatial-transformer UNet is supported");
        }
        if (y.bool(u + "legacy").orElse(false)) throw y.unsupported(u + "legacy", "only legacy: false is supported (AutoDIR's value)");
        if (y.bool(u + "use_scale_shift_norm").orElse(false)) throw y.unsupported(u + "use_scale_shift_norm", "not supported");
        if (y.bool(u + "resblock_updown").orElse(false)) throw y.unsupported(u + "resblock_updown", "not supported");
        if (!y.string(ModelYaml.PARAMS + "conditioning_key").orElse("hybrid").equals("hybrid")) {
            throw y.unsupported(ModelYaml.PARAMS + "conditioning_key", "only hybrid conditioning (AutoDIR's) is supported");
        }
        if (!y.string(ModelYaml.PARAMS + "parameterization").orElse("eps").equals("eps")) {
            throw y.unsupported(ModelYaml.PARAMS + "parameterization", "only eps prediction is supported");
        }
    }

    /**
     * What is wrong with the head counts, which tensor shapes cannot tell: every head count must divide the width it
     * splits, and a config that sets the head count of one CLIP tower must set the other's too (the official default
     * for the other would otherwise be taken silently; official ViT-L/14: text 12, vision 16).
     */
    public static List<HeadProblem> headProblems(WeightStore store, ModelYaml y, Inference r) {
        List<HeadProblem> out = new ArrayList<>();
        UNetConfig unet = r.unet();
        CLIPTextConfig text = r.clipText();
        CLIPVisionConfig vision = r.clipVision();
        String textKey = ModelYaml.CLIP_TEXT + "num_attention_heads", visionKey = ModelYaml.CLIP_VISION + "num_attention_heads";
        if (text != null && vision != null && y.has(textKey) != y.has(visionKey)) {
            String given = y.has(textKey) ? textKey : visionKey, missing = y.has(textKey) ? visionKey : textKey;
            out.add(new HeadProblem(missing, store.path() + ": " + y.source() + " sets " + given + " but not " + missing
                    + "; tensor shapes cannot tell a head count, so set both (official CLIP ViT-L/14: text 12, vision 16)"));
        }
        if (unet != null) {
            Set<Integer> levels = new TreeSet<>(unet.attentionLevels());
            levels.add(unet.levels() - 1);                                  // the middle block's transformer
            for (int level : levels) {
                int ch = unet.modelChannels() * unet.channelMult().get(level);
                if (unet.numHeads() > 0 && ch % unet.numHeads() != 0) {
                    out.add(heads(store, y, ModelYaml.UNET + "num_heads", unet.numHeads() + " heads do not divide the UNet width "
                            + ch + " at level " + level));
                    break;
                }
                if (unet.numHeadChannels() > 0 && ch % unet.numHeadChannels() != 0) {
                    out.add(heads(store, y, ModelYaml.UNET + "num_head_channels", unet.numHeadChannels()
                            + " channels per head do not divide the UNet width " + ch + " at level " + level));
                    break;
                }
            }
        }
        if (text != null && (text.heads() < 1 || text.hidden() % text.heads() != 0)) {
            out.add(heads(store, y, textKey, text.heads() + " heads do not divide the CLIP text width " + text.hidden()));
        }
        if (vision != null && (vision.heads() < 1 || vision.hidden() % vision.heads() != 0)) {
            out.add(heads(store, y, visionKey, vision.heads() + " heads do not divide the CLIP vision width " + vision.hidden()));
        }
        return out;
    }

    private static HeadProblem heads(WeightStore store, ModelYaml y, String key, String problem) {
        String where = y.has(key) ? key + " in " + y.source() : key + " is the official default; set it with --config FILE";
        return new HeadProblem(key, store.path() + ": " + problem + " (" + where + ")");
    }

    /**
     * Compares the weights each config implies with the checkpoint: a missing key, a shape or dtype
     * mismatch, or an unknown key under a network's prefix is a problem; all are collected and the
     * first few reported in one exception.
     */
    private static void validate(WeightStore store, List<Network> networks, Map<String, int[]> buffers) {
        List<String> problems = new ArrayList<>();
        Set<String> known = new LinkedHashSet<>(buffers.keySet());
        for (Network n : networks) {
            for (Map.Entry<String, int[]> e : n.weights().entrySet()) {
                String key = e.getKey();
                known.add(key);
                if (!store.contains(key)) {
                    problems.add("missing key " + key + " (expected shape " + Arrays.toString(e.getValue()) + ")");
                    continue;
                }
                TensorInfo info = store.info(key);
                if (!shapeMatches(key, e.getValue(), info.shape())) {
                    problems.add(key + ": expected shape " + Arrays.toString(e.getValue()) + ", actual " + Arrays.toString(info.shape()));
                } else if (!info.dtype().isFloat()) {
                    problems.add(key + ": expected a float tensor, actual " + info.dtype());
                }
            }
        }
        for (Map.Entry<String, int[]> e : buffers.entrySet()) {
            if (!store.contains(e.getKey())) continue;
            TensorInfo info = store.info(e.getKey());
            if (!Arrays.equals(e.getValue(), info.shape())) {
                problems.add(e.getKey() + ": expected shape " + Arrays.toString(e.getValue()) + ", actual " + Arrays.toString(info.shape()));
            }
        }
        Set<String> prefixes = new LinkedHashSet<>();
        for (Network n : networks) prefixes.add(n.prefix());
        for (String key : store.keys()) {
            if (known.contains(key)) continue;
            for (String p : prefixes) {
                if (key.startsWith(p)) {
                    problems.add("unexpected key " + key + " " + Arrays.toString(store.info(key).shape())
                            + " (the inferred config has no such weight)");
                    break;
                }
            }
        }
        if (problems.isEmpty()) return;
        StringBuilder msg = new StringBuilder("the weights do not match the config: ").append(problems.get(0));
        if (problems.size() > 1) {
            msg.append(" (and ").append(problems.size() - 1).append(" more: ");
            msg.append(String.join("; ", problems.subList(1, Math.min(problems.size(), 4))));
            msg.append(problems.size() > 4 ? "; ...)" : ")");
        }
        throw new CheckpointException(store.path(), msg.toString());
    }

    private static boolean shapeMatches(String key, int[] expected, int[] actual) {
        if (key.endsWith("." + WeightLayout.LOGIT_SCALE) && expected.length == 0) {
            return actual.length == 0 || (actual.length == 1 && actual[0] == 1);
        }
        return Arrays.equals(expected, actual);
    }

    /** Shape queries over a store, with errors that name the file and key. */
    static final class Shapes {
        private final WeightStore store;

        Shapes(WeightStore store) { this.store = store; }

        boolean has(String key) { return store.contains(key); }

        boolean any(String prefix) {
            for (String k : store.keys()) if (k.startsWith(prefix)) return true;
            return false;
        }

        /** A key that must exist, with the given rank (-1: any). */
        TensorInfo need(String key, int rank, String purpose) {
            if (!store.contains(key)) throw fail("missing key " + key + " (needed to infer " + purpose + ")");
            TensorInfo info = store.info(key);
            if (rank >= 0 && info.rank() != rank) {
                throw fail(key + ": expected a rank-" + rank + " tensor, actual shape " + Arrays.toString(info.shape()));
            }
            return info;
        }

        /** dim d of a weight as a multiple of {@code base}. */
        int multiple(TensorInfo info, int d, int base, String baseName) {
            if (base <= 0 || info.dim(d) % base != 0) {
                throw fail(info.key() + ": " + info.dim(d) + " channels are not a multiple of " + baseName + " " + base);
            }
            return info.dim(d) / base;
        }

        /** The integers n with some key {@code prefix + n + "."...}. */
        SortedSet<Integer> indices(String prefix) {
            SortedSet<Integer> out = new TreeSet<>();
            for (String k : store.keys()) {
                if (!k.startsWith(prefix)) continue;
                int dot = k.indexOf('.', prefix.length());
                if (dot < 0) continue;
                String n = k.substring(prefix.length(), dot);
                if (!n.isEmpty() && n.length() < 10 && n.chars().allMatch(Character::isDigit)) out.add(Integer.parseInt(n));
            }
            return out;
        }

        CheckpointException fail(String problem) { return new CheckpointException(store.path(), problem); }
    }
}
