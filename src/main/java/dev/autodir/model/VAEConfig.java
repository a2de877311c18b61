package dev.autodir.model;

import java.util.List;

/** ldm {@code AutoencoderKL} (encoder, decoder, quant_conv, post_quant_conv); attention only in the mid blocks. */
public record VAEConfig(int inChannels, int outChannels, int ch, List<Integer> chMult, int numResBlocks,
                        int zChannels, int embedDim, boolean doubleZ) {
    public VAEConfig {
        chMult = List.copyOf(chMult);
    }

    /** Spatial downsampling factor image → latent: 2^(levels-1). */
    public int downsampleFactor() { return 1 << (chMult.size() - 1); }

    public static VAEConfig official() {
        return new VAEConfig(3, 3, 128, List.of(1, 2, 4, 4), 2, 4, 4, true);
    }
}
