package dev.autodir.model;

import java.util.List;

/** ldm {@code AutoencoderKL} (encoder, decoder, quant_conv, post_quant_conv); attention only in the mid blocks. */
public record VAEConfig(int inChannels, int outChannels, int ch, List<Integer> chMult, int numResBlocks,
                        int zChannels, int embedDim, boolean doubleZ) {
    public VAEConfig {
        chMult = List.copyOf(chMult);
        ConfigRanges.in("VAE in_channels", inChannels, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("VAE out_ch", outChannels, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("VAE ch", ch, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.list("VAE ch_mult", chMult, 1, ConfigRanges.MAX_LEVELS, 1, 64);
        ConfigRanges.in("VAE num_res_blocks", numResBlocks, 1, ConfigRanges.MAX_DEPTH);
        ConfigRanges.in("VAE z_channels", zChannels, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("VAE embed_dim", embedDim, 1, ConfigRanges.MAX_WIDTH);
    }

    /** Spatial downsampling factor image → latent: 2^(levels-1). */
    public int downsampleFactor() { return 1 << (chMult.size() - 1); }

    public static VAEConfig official() {
        return new VAEConfig(3, 3, 128, List.of(1, 2, 4, 4), 2, 4, 4, true);
    }
}
