package dev.autodir.backend.tensorrt;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * File writes of the engine cache: into a hidden temporary file beside the target, synced, then renamed over it, so a
 * reader (another process sharing the cache) sees the old file or the whole new one, never a part.
 */
final class CacheFiles {
    private CacheFiles() { }

    interface Writer {
        void write(FileChannel channel) throws IOException;
    }

    static void writeAtomically(Path target, Writer writer) {
        Path file = target.toAbsolutePath().normalize();
        Path temp = file.resolveSibling("." + file.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            Files.createDirectories(file.getParent());
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                writer.write(ch);
                ch.force(true);
            }
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new UncheckedIOException(file + ": the file system cannot rename atomically; not writing the engine cache there", e);
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

    static void writeBytes(Path target, byte[] bytes) {
        writeAtomically(target, ch -> {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
        });
    }

    /** SHA-256 (hex) of a file's bytes. */
    static String sha256(Path file) {
        MessageDigest md = EngineKey.digest();
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e, e);
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
