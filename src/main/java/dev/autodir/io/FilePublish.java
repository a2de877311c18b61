package dev.autodir.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Gives a finished temporary file its final name in one step, so a reader never sees half a file: a hard link (no
 * overwrite: fails if the target exists) or an atomic rename over the target (overwrite). The temporary file is
 * removed either way.
 */
public final class FilePublish {
    private FilePublish() { }

    /** A hidden temporary name beside {@code target} ({@code .NAME.<random>.tmp}), not yet created. */
    public static Path temporaryBeside(Path target) {
        Path file = target.toAbsolutePath().normalize();
        return file.resolveSibling("." + file.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
    }

    /**
     * Moves {@code temp} (synced by the caller) to {@code target}.
     *
     * @throws IllegalArgumentException when {@code target} exists and {@code overwrite} is false
     */
    public static void publish(Path temp, Path target, boolean overwrite) {
        Path file = target.toAbsolutePath().normalize();
        try {
            if (overwrite) {
                Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                return;
            }
            if (Files.exists(file)) throw exists(file);
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
            deleteQuietly(temp);
        }
    }

    /** Removes a temporary file if it is still there (best effort: it is hidden and named after its target). */
    public static void deleteQuietly(Path temp) {
        try {
            if (temp != null) Files.deleteIfExists(temp);
        } catch (IOException ignored) {
            // best effort
        }
    }

    public static IllegalArgumentException exists(Path file) {
        return new IllegalArgumentException(file + ": already exists; not overwriting it (use --overwrite to replace it)");
    }
}
