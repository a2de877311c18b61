package dev.autodir.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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
            if (!overwrite && Files.exists(file)) throw exists(file);
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
                while (b.hasRemaining()) ch.write(b);
                ch.force(true);
            }
            if (overwrite) {
                Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                return;
            }
            try {
                Files.createLink(file, temp);
                return;
            } catch (FileAlreadyExistsException e) {
                throw exists(file);
            } catch (UnsupportedOperationException | IOException e) {
                // no hard links on this file system: check, then rename
            }
            if (Files.exists(file)) throw exists(file);
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new UncheckedIOException(file + ": the file system cannot rename atomically; not writing", e);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write: " + e, e);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // best effort: the temporary file is hidden and named after the target
            }
        }
    }

    private static IllegalArgumentException exists(Path file) {
        return new IllegalArgumentException(file + ": already exists; not overwriting it (use --overwrite to replace it)");
    }
}
