package dev.autodir.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.io.CheckpointException;
import dev.autodir.io.DType;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Configs inferred from golden set A's shapes and from official-size layouts; configs that disagree with weights. */
class ConfigInferenceTest {
    static final Path GOLDEN_A = Path.of("..", "shared", "golden", "A");
    static JsonNode manifest;

    @TempDir Path dir;

    @BeforeAll
    static void readManifest() throws IOException {
        assumeTrue(Files.isDirectory(GOLDEN_A), "golden set A not found at " + GOLDEN_A.toAbsolutePath() + ": skipping");
        manifest = new ObjectMapper().readTree(GOLDEN_A.resolve("manifest.json").toFile()).get("configs");
    }

    private static List<Integer> ints(JsonNode n) {
        List<Integer> l = new ArrayList<>();
        n.forEach(x -> l.add(x.asInt()));
        return l;
    }

    /** The configs the manifest states for set A, as records. */
    private static AutoDIRConfig expectedA() {
        JsonNode u = manifest.get("unet").get("params");
        List<Integer> levels = new ArrayList<>();
        for (int r : ints(u.get("attention_resolutions"))) levels.add(Integer.numberOfTrailingZeros(r));
        UNetConfig unet = new UNetConfig(u.get("in_channels").asInt(), u.get("out_channels").asInt(), u.get("model_channels").asInt(),
                ints(u.get("channel_mult")), u.get("num_res_blocks").asInt(), levels, u.get("num_heads").asInt(), -1,
                u.get("transformer_depth").asInt(), u.get("context_dim").asInt(), false);
        JsonNode v = manifest.get("vae");
        JsonNode dd = v.get("ddconfig");
        VAEConfig vae = new VAEConfig(dd.get("in_channels").asInt(), dd.get("out_ch").asInt(), dd.get("ch").asInt(),
                ints(dd.get("ch_mult")), dd.get("num_res_blocks").asInt(), dd.get("z_channels").asInt(), v.get("embed_dim").asInt(),
                dd.get("double_z").asBoolean());
        JsonNode c = manifest.get("clip");
        JsonNode t = c.get("text");
        JsonNode i = c.get("vision");
        float eps = (float) c.get("layer_norm_eps").asDouble();
        int proj = c.get("projection_dim").asInt();
        CLIPTextConfig text = new CLIPTextConfig(t.get("vocab_size").asInt(), t.get("hidden_size").asInt(), t.get("intermediate_size").asInt(),
                t.get("num_hidden_layers").asInt(), t.get("num_attention_heads").asInt(), t.get("max_position_embeddings").asInt(), proj, eps);
        CLIPVisionConfig vision = new CLIPVisionConfig(i.get("hidden_size").asInt(), i.get("intermediate_size").asInt(),
                i.get("num_hidden_layers").asInt(), i.get("num_attention_heads").asInt(), i.get("image_size").asInt(),
                i.get("patch_size").asInt(), proj, eps);
        JsonNode n = manifest.get("nafnet").get("params");
        NAFNetConfig nafnet = new NAFNetConfig(n.get("img_channel").asInt(), n.get("width").asInt(), ints(n.get("enc_blk_nums")),
                n.get("middle_blk_num").asInt(), ints(n.get("dec_blk_nums")));
        return new AutoDIRConfig(unet, vae, text, vision, nafnet, null);
    }

    /** A YAML with only what shapes cannot tell: the head counts of set A. */
    private Path headsOnlyYaml() throws IOException {
        JsonNode c = manifest.get("clip");
        return Files.writeString(dir.resolve("heads.yaml"), String.join("\n",
                "model:",
                "  params:",
                "    unet_config:",
                "      params:",
                "        num_heads: " + manifest.get("unet").get("params").get("num_heads").asInt(),
                "    assessment_config:",
                "      params:",
                "        text_config: {num_attention_heads: " + c.get("text").get("num_attention_heads").asInt() + "}",
                "        vision_config: {num_attention_heads: " + c.get("vision").get("num_attention_heads").asInt() + "}",
                ""));
    }

    /** Every value of the manifest's configs, in the official YAML layout (written from manifest.json). */
    @SuppressWarnings("unchecked")
    private Path fullYaml() throws IOException {
        ObjectMapper json = new ObjectMapper();
        Map<String, Object> d = json.convertValue(manifest.get("diffusion"), Map.class);
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("linear_start", d.get("linear_start"));
        params.put("linear_end", d.get("linear_end"));
        params.put("timesteps", d.get("timesteps"));
        params.put("scale_factor", d.get("scale_factor"));
        params.put("conditioning_key", d.get("conditioning_key"));
        params.put("unet_config", Map.of("params", json.convertValue(manifest.get("unet").get("params"), Map.class)));
        Map<String, Object> vae = new LinkedHashMap<>();
        vae.put("embed_dim", manifest.get("vae").get("embed_dim").asInt());
        vae.put("ddconfig", json.convertValue(manifest.get("vae").get("ddconfig"), Map.class));
        params.put("first_stage_config", Map.of("params", vae));
        JsonNode c = manifest.get("clip");
        Map<String, Object> clip = new LinkedHashMap<>();
        clip.put("projection_dim", c.get("projection_dim").asInt());
        clip.put("text_config", json.convertValue(c.get("text"), Map.class));
        clip.put("vision_config", json.convertValue(c.get("vision"), Map.class));
        params.put("assessment_config", Map.of("params", clip));
        params.put("scm_config", Map.of("params", json.convertValue(manifest.get("nafnet").get("params"), Map.class)));
        return Files.writeString(dir.resolve("setA.yaml"), new Yaml().dump(Map.of("model", Map.of("params", params))));
    }

    private static void assertSameNetworks(AutoDIRConfig expected, AutoDIRConfig actual) {
        assertEquals(expected.unet(), actual.unet());
        assertEquals(expected.vae(), actual.vae());
        assertEquals(expected.clipText(), actual.clipText());
        assertEquals(expected.clipVision(), actual.clipVision());
        assertEquals(expected.nafnet(), actual.nafnet());
    }

    @Test
    void setAFromShapesMatchesTheManifest() throws IOException {
        for (String file : List.of("weights.safetensors", "weights.ckpt", "weights-fp16.ckpt")) {
            try (WeightStore s = WeightStore.open(GOLDEN_A.resolve(file))) {
                AutoDIRConfig got = ConfigInference.infer(s, ModelYaml.read(headsOnlyYaml()));
                assertSameNetworks(expectedA(), got);
                // the schedule is the checkpoint's buffer; it must agree with ldm's linear schedule of the manifest
                JsonNode d = manifest.get("diffusion");
                ScheduleConfig lin = ScheduleConfig.fromLinear(d.get("linear_start").asDouble(), d.get("linear_end").asDouble(),
                        d.get("timesteps").asInt(), (float) d.get("scale_factor").asDouble());
                assertEquals(lin.timesteps(), got.schedule().timesteps());
                // fp32 buffer vs our float64 recomputation: ≤ 1e-6 relative L2; the fp16 checkpoint stores the buffer rounded to fp16
                double tol = file.contains("fp16") ? 1e-3 : 1e-6;
                double err = new FloatTensor(got.schedule().alphasCumprod(), 1000).relL2(new FloatTensor(lin.alphasCumprod(), 1000));
                assertTrue(err <= tol, file + ": alphas_cumprod rel L2 " + err + " > " + tol);
                assertEquals(d.get("scale_factor").asDouble(), got.schedule().scaleFactor(), 1e-7);
            }
        }
    }

    @Test
    void setAWithEveryManifestValueInTheYamlValidates() throws IOException {
        try (WeightStore s = WeightStore.open(GOLDEN_A.resolve("weights.ckpt"))) {
            ConfigInference.Inference r = ConfigInference.inspect(s, ModelYaml.read(fullYaml()));
            assertSameNetworks(expectedA(), r.toConfig(s));
            assertTrue(r.scheduleFromBuffer());
            // every key is either bound by a network or listed as unused: the 12 schedule buffers and 2 position_ids
            assertEquals(14, r.unusedKeys().size(), r.unusedKeys().toString());
            assertTrue(r.unusedKeys().contains("alphas_cumprod"));
            assertTrue(r.unusedKeys().contains("model_assessment.clipmodel.text_model.embeddings.position_ids"));
            int bound = 0;
            for (ConfigInference.Network n : r.networks()) bound += n.weights().size();
            assertEquals(s.keys().size(), bound + r.unusedKeys().size());
            assertEquals(5, r.networks().size());
        }
    }

    @Test
    void parameterCountsAddUpToTheManifestTotal() throws IOException {
        JsonNode w = new ObjectMapper().readTree(GOLDEN_A.resolve("manifest.json").toFile()).get("weights");
        try (WeightStore s = WeightStore.open(GOLDEN_A.resolve(w.get("file").asText()))) {
            ConfigInference.Inference r = ConfigInference.inspect(s, ModelYaml.read(headsOnlyYaml()));
            long total = 0;
            for (ConfigInference.Network n : r.networks()) total += params(n);
            for (String k : r.unusedKeys()) total += s.info(k).numel();        // the manifest counts the schedule buffers too
            assertEquals(w.get("n_params").asLong(), total);
            assertEquals(w.get("n_tensors").asInt(), s.keys().size());
        }
    }

    @Test
    void inferenceReadsNoTensorDataButTheScheduleBuffer() throws IOException {
        try (WeightStore real = WeightStore.open(GOLDEN_A.resolve("weights.safetensors"))) {
            FakeStore shapesOnly = FakeStore.copyOf(real);
            shapesOnly.data.put("alphas_cumprod", real.readFloat("alphas_cumprod").data());
            AutoDIRConfig got = ConfigInference.infer(shapesOnly, ModelYaml.read(headsOnlyYaml()));   // FakeStore throws on any other read
            assertSameNetworks(expectedA(), got);
        }
    }

    private CheckpointException mismatch(FakeStore s, ModelYaml y, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> ConfigInference.infer(s, y));
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "\"" + f + "\" not in: " + e.getMessage());
        assertTrue(e.getMessage().startsWith(s.path() + ": "), e.getMessage());
        return e;
    }

    private FakeStore setA() throws IOException {
        try (WeightStore real = WeightStore.open(GOLDEN_A.resolve("weights.safetensors"))) {
            FakeStore f = FakeStore.copyOf(real);
            f.data.put("alphas_cumprod", real.readFloat("alphas_cumprod").data());
            return f;
        }
    }

    @Test
    void aYamlThatDisagreesWithTheWeightsNamesKeyExpectedAndActual() throws IOException {
        Path yaml = Files.writeString(dir.resolve("wide.yaml"), Files.readString(headsOnlyYaml()).replace(
                "        num_heads: 2", "        num_heads: 2\n        model_channels: 320"));
        mismatch(setA(), ModelYaml.read(yaml),
                "model.diffusion_model.time_embed.0.weight: expected shape [1280, 320], actual [128, 32]", "more");
    }

    @Test
    void theOfficialYamlDoesNotFitTheTinyWeights() throws IOException {
        mismatch(setA(), ModelYaml.read(Path.of("configs", "generate.yaml")), "expected shape", "actual");
    }

    @Test
    void transformerBlockWithTheWrongContextWidth() throws IOException {
        FakeStore s = setA();
        String key = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight";
        s.put(key, DType.F32, 32, 40);
        mismatch(s, ModelYaml.read(headsOnlyYaml()), key + ": expected shape [32, 32], actual [32, 40]");
    }

    @Test
    void missingResBlockKey() throws IOException {
        FakeStore s = setA();
        String key = "model.diffusion_model.output_blocks.0.0.skip_connection.weight";
        s.infos.remove(key);
        mismatch(s, ModelYaml.read(headsOnlyYaml()), "missing key " + key + " (expected shape [64, 128, 1, 1])");
    }

    @Test
    void unknownWeightUnderANetworkPrefixAndIntegerWeight() throws IOException {
        FakeStore s = setA();
        s.put("first_stage_model.encoder.down.0.attn.0.q.weight", DType.F32, 32, 32, 1, 1);
        mismatch(s, ModelYaml.read(headsOnlyYaml()), "unexpected key first_stage_model.encoder.down.0.attn.0.q.weight");

        FakeStore t = setA();
        t.put("NAFNet.intro.bias", DType.I64, 8);
        mismatch(t, ModelYaml.read(headsOnlyYaml()), "NAFNet.intro.bias: expected a float tensor, actual I64");
    }

    @Test
    void headCountsThatDoNotDivideTheWidth() throws IOException {
        FakeStore s = setA();
        // no YAML: the official CLIP text head count (12) does not divide set A's width 32
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigInference.infer(s, ModelYaml.none()));
        assertTrue(e.getMessage().startsWith(s.path() + ": 12 heads do not divide the CLIP text width 32 ("
                + "model.params.assessment_config.params.text_config.num_attention_heads is the official default"),
                e.getMessage());
        Path yaml = Files.writeString(dir.resolve("h3.yaml"), Files.readString(headsOnlyYaml()).replace("num_heads: 2", "num_heads: 3"));
        e = assertThrows(ConfigException.class, () -> ConfigInference.infer(s, ModelYaml.read(yaml)));
        assertTrue(e.getMessage().startsWith(s.path() + ": 3 heads do not divide the UNet width 32 at level 0 ("
                + "model.params.unet_config.params.num_heads in " + yaml + ")"),
                e.getMessage());
    }

    @Test
    void aConfigThatSetsTheHeadsOfOneCLIPTowerOnlyIsAnErrorNamingTheOther() throws IOException {
        FakeStore s = setA();
        // the vision default (16) divides set A's vision width 48, so without this rule it would be taken silently
        Path textOnly = Files.writeString(dir.resolve("text.yaml"), Files.readString(headsOnlyYaml())
                .replaceAll("(?m)^ *vision_config:.*\\n", ""));
        assertFalse(Files.readString(textOnly).contains("vision_config"), Files.readString(textOnly));
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigInference.infer(s, ModelYaml.read(textOnly)));
        assertEquals(s.path() + ": " + textOnly + " sets model.params.assessment_config.params.text_config.num_attention_heads but not"
                + " model.params.assessment_config.params.vision_config.num_attention_heads; tensor shapes cannot tell a head count,"
                + " so set both (official CLIP ViT-L/14: text 12, vision 16)", e.getMessage());
        Path visionOnly = Files.writeString(dir.resolve("vision.yaml"), Files.readString(headsOnlyYaml())
                .replaceAll("(?m)^ *text_config:.*\\n", ""));
        e = assertThrows(ConfigException.class, () -> ConfigInference.infer(s, ModelYaml.read(visionOnly)));
        assertTrue(e.getMessage().contains("sets model.params.assessment_config.params.vision_config.num_attention_heads but not"
                + " model.params.assessment_config.params.text_config.num_attention_heads"), e.getMessage());
    }

    @Test
    void theConfigTemplateMarksSourcesAndLoadsToTheSameConfigOnceFilledIn() throws IOException {
        FakeStore s = setA();
        ConfigInference.Inference r = ConfigInference.survey(s, ModelYaml.none());
        List<ConfigInference.HeadProblem> problems = ConfigInference.headProblems(s, ModelYaml.none(), r);
        assertEquals(List.of(ModelYaml.CLIP_TEXT + "num_attention_heads"), problems.stream().map(ConfigInference.HeadProblem::key).toList());
        List<ConfigSources.Entry> entries = ConfigSources.entries(r, ModelYaml.none());
        assertEquals(ConfigSources.Source.DEFAULT, ConfigSources.find(entries, "CLIP vision", "heads").source());
        assertEquals(ConfigSources.Source.DEFAULT, ConfigSources.find(entries, "UNet", "numHeads").source());
        assertEquals(ConfigSources.Source.WEIGHTS, ConfigSources.find(entries, "UNet", "modelChannels").source());
        assertEquals(ConfigSources.Source.WEIGHTS, ConfigSources.find(entries, "schedule", "timesteps").source(), "from the buffer's length");

        String template = ConfigSources.template(entries, problems, s.path().toString());
        assertTrue(template.contains("num_attention_heads: FILL_IN  # FILL IN: " + s.path() + ": 12 heads do not divide the CLIP text width 32"),
                template);
        assertTrue(template.contains("num_attention_heads: 16  # official default: shapes cannot tell it"), template);
        assertTrue(template.contains("model_channels: 32  # from the weights"), template);
        Path file = Files.writeString(dir.resolve("template.yaml"), template);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigInference.infer(s, ModelYaml.read(file)));
        assertTrue(e.getMessage().contains("text_config.num_attention_heads must be an integer, found \"FILL_IN\""), e.getMessage());

        // filled in with set A's head counts (the defaults 8 and 16 are the official model's, not set A's): the same config
        String filled = template.replace("num_attention_heads: FILL_IN", "num_attention_heads: 2")
                .replace("num_attention_heads: 16", "num_attention_heads: 3").replace("num_heads: 8", "num_heads: 2");
        ConfigInference.Inference fromTemplate = ConfigInference.inspect(s, ModelYaml.read(Files.writeString(file, filled)));
        ConfigInference.Inference expected = ConfigInference.inspect(s, ModelYaml.read(fullYaml()));
        assertSameNetworks(expected.toConfig(s), fromTemplate.toConfig(s));
        assertEquals(List.of(expected.schedule().linearStart(), expected.schedule().linearEnd(), expected.schedule().scaleFactor(),
                expected.schedule().timesteps()), List.of(fromTemplate.schedule().linearStart(), fromTemplate.schedule().linearEnd(),
                fromTemplate.schedule().scaleFactor(), fromTemplate.schedule().timesteps()));

        // from a complete config: every value that shapes cannot tell is marked as the config's, nothing to fill in
        ModelYaml full = ModelYaml.read(fullYaml());
        List<ConfigSources.Entry> fromFull = ConfigSources.entries(ConfigInference.inspect(s, full), full);
        assertEquals(ConfigSources.Source.CONFIG, ConfigSources.find(fromFull, "CLIP vision", "heads").source());
        assertFalse(ConfigSources.template(fromFull, List.of(), s.path().toString()).contains("FILL_IN"));
    }

    @Test
    void badYamlValuesNameFileAndKey() throws IOException {
        Path yaml = Files.writeString(dir.resolve("bad.yaml"), "model:\n  params:\n    unet_config:\n      params:\n        num_heads: eight\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigInference.infer(setA(), ModelYaml.read(yaml)));
        assertEquals(yaml + ": model.params.unet_config.params.num_heads must be an integer, found \"eight\"", e.getMessage());
        Path broken = Files.writeString(dir.resolve("broken.yaml"), "model: [unclosed\n");
        e = assertThrows(ConfigException.class, () -> ModelYaml.read(broken));
        assertTrue(e.getMessage().startsWith(broken + ": not valid YAML"), e.getMessage());
        Path legacy = Files.writeString(dir.resolve("legacy.yaml"), "model:\n  params:\n    unet_config:\n      params:\n        legacy: true\n");
        e = assertThrows(ConfigException.class, () -> ConfigInference.infer(setA(), ModelYaml.read(legacy)));
        assertTrue(e.getMessage().contains("legacy"), e.getMessage());
    }

    /** Official-size weights laid out by {@link WeightLayout}: parameter counts known from the published models. */
    private static FakeStore official() {
        return FakeStore.official();
    }

    private static long params(ConfigInference.Network n) {
        long p = 0;
        for (int[] shape : n.weights().values()) p += FloatTensor.numel(shape);
        return p;
    }

    @Test
    void officialLayoutsHaveThePublishedParameterCounts() {
        ConfigInference.Inference r = ConfigInference.inspect(official(), ModelYaml.none());
        Map<String, Long> counts = new LinkedHashMap<>();
        for (ConfigInference.Network n : r.networks()) counts.put(n.name(), params(n));
        // SD-1.5 UNet 859,520,964 + 4 more input channels × 320 × 3 × 3 (InstructPix2Pix/AutoDIR's 8-channel input)
        assertEquals(859_520_964L + 4 * 320 * 9, counts.get("UNet"));
        assertEquals(83_653_863L, counts.get("VAE"));                       // SD AutoencoderKL
        // openai/clip-vit-large-patch14 CLIPModel: 427,616,513 (text tower 123,060,480 + projection + logit_scale)
        assertEquals(427_616_513L, counts.get("CLIP text") + counts.get("CLIP vision"));
        assertEquals(123_060_480L + 768 * 768 + 1, counts.get("CLIP text"));
    }

    @Test
    void officialLayoutsInferToTheOfficialConfigsWithAndWithoutTheShippedYaml() {
        for (ModelYaml y : List.of(ModelYaml.none(), ModelYaml.read(Path.of("configs", "generate.yaml")))) {
            ConfigInference.Inference r = ConfigInference.inspect(official(), y);
            assertEquals(UNetConfig.official(), r.unet(), y.source());
            assertEquals(VAEConfig.official(), r.vae(), y.source());
            assertEquals(CLIPTextConfig.official(), r.clipText(), y.source());
            assertEquals(CLIPVisionConfig.official(), r.clipVision(), y.source());
            assertEquals(NAFNetConfig.official(), r.nafnet(), y.source());
            assertFalse(r.scheduleFromBuffer());
            float[] expected = ScheduleConfig.official().alphasCumprod();
            float[] got = r.schedule().alphasCumprod();
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], got[i], 0f, "alphas_cumprod[" + i + "]");
            assertEquals(List.of("model_assessment.clipmodel.text_model.embeddings.position_ids",
                    "model_assessment.clipmodel.vision_model.embeddings.position_ids"), r.unusedKeys());
        }
    }

    @Test
    void aMissingNetworkIsNamedWhenTheWholeModelIsNeeded() {
        FakeStore s = official();
        s.infos.keySet().removeIf(k -> k.startsWith(ConfigInference.SCM_PREFIX));
        ConfigInference.Inference r = ConfigInference.inspect(s, ModelYaml.none());
        assertEquals(4, r.networks().size());
        CheckpointException e = assertThrows(CheckpointException.class, () -> r.toConfig(s));
        assertTrue(e.getMessage().contains("no SCM (NAFNet) weights (no key starts with NAFNet.)"), e.getMessage());
    }
}
