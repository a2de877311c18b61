package dev.autodir.model;

import java.util.List;

/** NAFNet as used by AutoDIR's {@code NAFNet_Combine} (the SCM). */
public record NAFNetConfig(int imgChannels, int width, List<Integer> encBlocks, int middleBlocks, List<Integer> decBlocks) {
    public NAFNetConfig {
        encBlocks = List.copyOf(encBlocks);
        decBlocks = List.copyOf(decBlocks);
    }

    /** Inputs are zero-padded right and bottom to a multiple of this: 2^len(enc_blk_nums). */
    public int padMultiple() { return 1 << encBlocks.size(); }

    public static NAFNetConfig official() {
        return new NAFNetConfig(6, 64, List.of(2, 2, 4, 8), 12, List.of(2, 2, 2, 2));
    }
}
