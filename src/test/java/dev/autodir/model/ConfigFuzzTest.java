package dev.autodir.model;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.autodir.fuzz.FuzzSupport;

import java.nio.file.Path;

/**
 * Fuzz target of the YAML config reader (issue 12): any file must read as a config or fail with
 * {@link ConfigException}; then every key the config inference looks up, under every section, is read with
 * every typed accessor (each a value or a ConfigException), and the schedule is built from it (a value or a
 * ConfigException). Running the whole inference per input would cost ~6 ms (the official layouts have
 * thousands of keys) and allocate 30 MiB whatever the input: {@link ConfigValidationTest} covers it with
 * hostile values instead.
 */
class ConfigFuzzTest {
    /** snakeyaml builds ~50-100 bytes of objects per byte of a dense document. */
    static final long YAML_PER_BYTE = 4096;
    /** The lookups themselves: 1,840 paths x 5 accessors, most a ConfigException with its stack trace (~8 MiB). */
    static final long LOOKUPS_BYTES = 32L << 20;

    private static final Path YAML = FuzzSupport.scratch("yaml", ".yaml");
    private static final FakeStore NO_BUFFERS = new FakeStore(Path.of("empty.ckpt"));
    private static final String[] SECTIONS = {ModelYaml.PARAMS, ModelYaml.UNET, ModelYaml.VAE, ModelYaml.VAE_DD, ModelYaml.CLIP,
            ModelYaml.CLIP_TEXT, ModelYaml.CLIP_VISION, ModelYaml.SCM};
    private static final String[] KEYS = ("projection_dim conditioning_key linear_end linear_start parameterization scale_factor"
            + " timesteps embed_dim attention_resolutions attn_resolutions ch ch_mult channel_mult context_dim dec_blk_nums"
            + " double_z enc_blk_nums hidden_size image_size img_channel in_channels intermediate_size layer_norm_eps"
            + " max_position_embeddings middle_blk_num model_channels num_attention_heads num_head_channels num_heads"
            + " num_hidden_layers num_res_blocks out_ch out_channels patch_size transformer_depth use_linear_in_transformer"
            + " vocab_size width z_channels legacy resblock_updown use_scale_shift_norm use_spatial_transformer").split(" ");

    @FuzzTest(maxDuration = "10m")
    void yamlConfig(byte[] input) throws Exception {
        FuzzSupport.measure("yaml-config", input.length, YAML_PER_BYTE, LOOKUPS_BYTES, () -> {
            ModelYaml y;
            try {
                y = ModelYaml.read(FuzzSupport.write(YAML, input));
            } catch (ConfigException expected) {
                return;
            }
            for (String section : SECTIONS) {
                for (String key : KEYS) {
                    String path = section + key;
                    try { y.integer(path); } catch (ConfigException expected) { /* a value of another type */ }
                    try { y.number(path); } catch (ConfigException expected) { /* a value of another type */ }
                    try { y.bool(path); } catch (ConfigException expected) { /* a value of another type */ }
                    try { y.string(path); } catch (ConfigException expected) { /* a value of another type */ }
                    try { y.ints(path); } catch (ConfigException expected) { /* a value of another type */ }
                }
            }
            try {
                ConfigInference.schedule(NO_BUFFERS, y);
            } catch (ConfigException expected) {
                // a schedule value out of range
            }
        });
    }
}
