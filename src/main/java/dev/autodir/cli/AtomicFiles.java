package dev.autodir.cli;

import dev.autodir.io.FilePublish;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes a small text file (a report) the way {@link dev.autodir.image.RgbImageWriter} writes images: into a hidden
 * temporary file beside the target, synced, then linked (no overwrite: fails if the target exists) or renamed over
 * it (overwrite), so a reader never sees half a file.
 */
final class AtomicFiles {
    private AtomicFiles() { }

    static void writeString(Path target, String text, boolean overwrite) {
        Path file = target.toAbsolutePath().normalize();
        Path temp = dev.autodir.image.TempFiles.beside(file);
        try {
            if (!overwrite && Files.exists(file)) throw FilePublish.exists(file);
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
                while (b.hasRemaining()) ch.write(b);
                ch.force(true);
            }
            FilePublish.publish(temp, file, overwrite);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write: " + e, e);
        } finally {
            FilePublish.deleteQuietly(temp);
        }
    }
}
