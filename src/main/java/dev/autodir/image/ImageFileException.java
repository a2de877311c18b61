package dev.autodir.image;

import java.nio.file.Path;

/**
 * An image file that cannot be read or written: missing, corrupt, unsupported, too large, or a write
 * that would replace a file it must not. The message starts with the file and says why.
 */
public class ImageFileException extends RuntimeException {
    private final transient Path file;

    public ImageFileException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public ImageFileException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file the problem is about. */
    public Path file() { return file; }
}
