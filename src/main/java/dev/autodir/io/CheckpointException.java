package dev.autodir.io;

import java.nio.file.Path;

/** A checkpoint that cannot be read as a weight store; the message names the file and the problem. */
public class CheckpointException extends RuntimeException {
    public CheckpointException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public CheckpointException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
