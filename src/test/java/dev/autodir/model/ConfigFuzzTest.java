package dev.autodir.model;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.autodir.fuzz.FuzzSupport;
import dev.autodir.io.CheckpointException;
import dev.autodir.io.DType;

import java.nio.file.Path;

/**
 * Fuzz target of the YAML config reader and the config inference it feeds (issue 12): against the
 * official layout's shapes, any YAML file must give a config or a {@link ConfigException} (a
 * {@link CheckpointException} when the YAML contradicts the weights), within the stated allocation per byte.
 */
class ConfigFuzzTest {
    /** snakeyaml builds ~50-100 bytes of objects per byte of a dense document. */
    static final long YAML_PER_BYTE = 4096;

    private static final Path YAML = FuzzSupport.scratch("yaml", ".yaml");
    private static final FakeStore OFFICIAL = new FakeStore(Path.of("official.ckpt"))
            .add(ConfigInference.UNET_PREFIX, WeightLayout.unet(UNetConfig.official()))
            .add(ConfigInference.VAE_PREFIX, WeightLayout.vae(VAEConfig.official()))
            .add(ConfigInference.CLIP_PREFIX, WeightLayout.clipText(CLIPTextConfig.official()))
            .add(ConfigInference.CLIP_PREFIX, WeightLayout.clipVision(CLIPVisionConfig.official()))
            .add(ConfigInference.SCM_PREFIX, WeightLayout.nafnet(NAFNetConfig.official()))
            .put("model_assessment.clipmodel.text_model.embeddings.position_ids", DType.I64, 1, 77)
            .put("model_assessment.clipmodel.vision_model.embeddings.position_ids", DType.I64, 1, 257);

    @FuzzTest(maxDuration = "10m")
    void yamlConfig(byte[] input) throws Exception {
        FuzzSupport.measure("yaml-config", input.length, YAML_PER_BYTE, () -> {
            try {
                ConfigInference.inspect(OFFICIAL, ModelYaml.read(FuzzSupport.write(YAML, input)));
            } catch (ConfigException | CheckpointException expected) {
                // a bad value, or one the weights contradict
            }
        });
    }
}
