package dev.autodir.io;

import java.nio.file.Path;

/** Opens checkpoints by content. */
final class WeightStores {
    private WeightStores() { }

    static WeightStore open(Path path) {
        throw new CheckpointException(path, "checkpoint loading is not implemented yet");
    }
}
