package dev.autodir.model;

import java.util.List;

/**
 * ldm {@code openaimodel.UNetModel} with a spatial transformer (SD-1.5 layout, legacy=False).
 *
 * @param attentionLevels  the levels (0-based index into channelMult) whose input/output blocks carry a
 *                         SpatialTransformer; ldm's {@code attention_resolutions} are the downsampling
 *                         factors 2^level of these levels
 * @param numHeads         heads per attention layer, or -1 when {@code numHeadChannels} fixes the head width
 * @param numHeadChannels  channels per head, or -1 when {@code numHeads} is fixed
 * @param useLinearProjection proj_in / proj_out are Linear layers instead of 1x1 convolutions
 */
public record UNetConfig(int inChannels, int outChannels, int modelChannels, List<Integer> channelMult,
                         int numResBlocks, List<Integer> attentionLevels, int numHeads, int numHeadChannels,
                         int transformerDepth, int contextDim, boolean useLinearProjection) {
    public UNetConfig {
        channelMult = List.copyOf(channelMult);
        attentionLevels = List.copyOf(attentionLevels);
        ConfigRanges.in("UNet in_channels", inChannels, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("UNet out_channels", outChannels, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("UNet model_channels", modelChannels, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.list("UNet channel_mult", channelMult, 1, ConfigRanges.MAX_LEVELS, 1, 64);
        ConfigRanges.in("UNet num_res_blocks", numResBlocks, 1, ConfigRanges.MAX_DEPTH);
        ConfigRanges.list("UNet attention levels", attentionLevels, 0, ConfigRanges.MAX_LEVELS, 0, channelMult.size() - 1);
        ConfigRanges.in("UNet transformer_depth", transformerDepth, 1, ConfigRanges.MAX_DEPTH);
        ConfigRanges.in("UNet context_dim", contextDim, 1, ConfigRanges.MAX_WIDTH);
        if (numHeads > 0) ConfigRanges.in("UNet num_heads", numHeads, 1, ConfigRanges.MAX_WIDTH);
        if (numHeadChannels > 0) ConfigRanges.in("UNet num_head_channels", numHeadChannels, 1, ConfigRanges.MAX_WIDTH);
        if ((numHeads > 0) == (numHeadChannels > 0)) {
            throw new IllegalArgumentException("UNet: exactly one of num_heads (" + numHeads
                    + ") and num_head_channels (" + numHeadChannels + ") must be set");
        }
    }

    /** legacy=False head rule: num_heads fixed gives dim_head = ch / num_heads, else dim_head = num_head_channels. */
    public int headsFor(int channels) {
        return numHeads > 0 ? numHeads : channels / numHeadChannels;
    }

    public int levels() { return channelMult.size(); }

    /** The official SD-1.5 / AutoDIR configuration (configs/generate.yaml). */
    public static UNetConfig official() {
        return new UNetConfig(8, 4, 320, List.of(1, 2, 4, 4), 2, List.of(0, 1, 2), 8, -1, 1, 768, false);
    }
}
