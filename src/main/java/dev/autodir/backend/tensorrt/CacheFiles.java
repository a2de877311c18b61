package dev.autodir.backend.tensorrt;

import dev.autodir.io.FilePublish;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * File writes of the engine cache: into a hidden temporary file beside the target, synced, then renamed over it
 * ({@link FilePublish}), so a reader (another process sharing the cache) sees the old file or the whole new one.
 */
final class CacheFiles {
    private CacheFiles() { }

    interface Writer {
        void write(FileChannel channel) throws IOException;
    }

    static void writeAtomically(Path target, Writer writer) {
        Path file = target.toAbsolutePath().normalize();
        Path temp = FilePublish.temporaryBeside(file);
        try {
            Files.createDirectories(file.getParent());
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                writer.write(ch);
                ch.force(true);
            }
            FilePublish.publish(temp, file, true);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write: " + e, e);
        } finally {
            FilePublish.deleteQuietly(temp);
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
