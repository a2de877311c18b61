package dev.autodir.model;

import java.util.List;

/** NAFNet as used by AutoDIR's {@code NAFNet_Combine} (the SCM). */
public record NAFNetConfig(int imgChannels, int width, List<Integer> encBlocks, int middleBlocks, List<Integer> decBlocks) {
    public NAFNetConfig {
        encBlocks = List.copyOf(encBlocks);
        decBlocks = List.copyOf(decBlocks);
        ConfigRanges.in("NAFNet img_channel", imgChannels, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("NAFNet width", width, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.list("NAFNet enc_blk_nums", encBlocks, 0, ConfigRanges.MAX_LEVELS, 0, ConfigRanges.MAX_DEPTH);
        ConfigRanges.in("NAFNet middle_blk_num", middleBlocks, 0, ConfigRanges.MAX_DEPTH);
        ConfigRanges.list("NAFNet dec_blk_nums", decBlocks, 0, ConfigRanges.MAX_LEVELS, 0, ConfigRanges.MAX_DEPTH);
    }

    /** Inputs are zero-padded right and bottom to a multiple of this: 2^len(enc_blk_nums). */
    public int padMultiple() { return 1 << encBlocks.size(); }

    public static NAFNetConfig official() {
        return new NAFNetConfig(6, 64, List.of(2, 2, 4, 8), 12, List.of(2, 2, 2, 2));
    }
}
