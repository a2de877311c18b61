package dev.autodir.backend.tensorrt;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Native memory to and from files in chunks (plans and timing caches may exceed a Java array's 2 GiB). */
final class NativeBytes {
    private static final long CHUNK = 1L << 30;

    private NativeBytes() { }

    /** Writes {@code size} bytes at {@code data} to the channel. */
    static void write(Pointer data, long size, FileChannel ch) throws IOException {
        BytePointer p = new BytePointer(data).capacity(size);
        for (long off = 0; off < size; off += CHUNK) {
            long n = Math.min(CHUNK, size - off);
            ByteBuffer b = p.position(off).limit(off + n).asBuffer();
            while (b.hasRemaining()) ch.write(b);
        }
    }

    /** The whole file in newly allocated native memory (the caller closes it). */
    static BytePointer read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            BytePointer p = new BytePointer(size);
            try {
                for (long off = 0; off < size; off += CHUNK) {
                    long n = Math.min(CHUNK, size - off);
                    ByteBuffer b = p.position(off).limit(off + n).asBuffer();
                    while (b.hasRemaining()) {
                        if (ch.read(b) < 0) throw new IOException("the file ended early at byte " + (off + n - b.remaining()));
                    }
                }
                p.position(0).limit(size);
                return p;
            } catch (IOException | RuntimeException e) {
                p.close();
                throw e;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
