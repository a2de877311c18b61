package dev.autodir.io;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.PrimitiveIterator;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A whole file mapped read-only in chunks: one {@link MappedByteBuffer} holds at most 2 GiB, so a 7 GB
 * checkpoint needs several. Reads copy (and convert) straight from the mapping into the caller's
 * array; an element that straddles two chunks is assembled from both.
 *
 * <p>Thread-safe: reads take a shared lock and use absolute slices only, so concurrent reads never
 * disturb each other; {@link #close} takes the exclusive lock and unmaps, so no read can touch an
 * unmapped page.
 */
final class MappedFile implements AutoCloseable {
    /** 1 GiB: a power of two, so element-aligned data never straddles a chunk boundary. */
    static final long DEFAULT_CHUNK_BYTES = 1L << 30;

    private final Path path;
    private final long size;
    private final long chunkBytes;
    private final ByteBuffer[] chunks;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    private MappedFile(Path path, long size, long chunkBytes, ByteBuffer[] chunks) {
        this.path = path;
        this.size = size;
        this.chunkBytes = chunkBytes;
        this.chunks = chunks;
    }

    static MappedFile map(Path path, long chunkBytes) throws IOException {
        if (chunkBytes < 8 || chunkBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("chunk size " + chunkBytes + " must be in [8, 2^31-1] bytes");
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            int n = (int) ((size + chunkBytes - 1) / chunkBytes);
            ByteBuffer[] chunks = new ByteBuffer[n];
            boolean ok = false;
            try {
                for (int i = 0; i < n; i++) {
                    long start = i * chunkBytes;
                    chunks[i] = ch.map(FileChannel.MapMode.READ_ONLY, start, Math.min(chunkBytes, size - start));
                }
                ok = true;
            } finally {
                if (!ok) for (ByteBuffer b : chunks) if (b != null) Unmapper.unmap(b);
            }
            // the mappings stay valid after the channel is closed
            return new MappedFile(path, size, chunkBytes, chunks);
        }
    }

    Path path() { return path; }

    long size() { return size; }

    /** Copies {@code len} bytes at {@code offset} into {@code dst}. */
    void get(long offset, byte[] dst, int pos, int len) {
        lock.readLock().lock();
        try {
            checkOpen();
            checkRange(offset, len);
            while (len > 0) {
                int ci = (int) (offset / chunkBytes);
                int in = (int) (offset - ci * chunkBytes);
                int n = Math.min(len, chunks[ci].capacity() - in);
                chunks[ci].get(in, dst, pos, n);
                offset += n;
                pos += n;
                len -= n;
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    byte[] bytes(long offset, int len) {
        byte[] b = new byte[len];
        get(offset, b, 0, len);
        return b;
    }

    /** What to do with one run of elements that lies inside one chunk (a little-endian buffer). */
    interface RunDecoder {
        void decode(ByteBuffer littleEndian, int count, int dstPos);
    }

    /**
     * Decodes the runs of a tensor view: run {@code r} holds {@code runs.length} elements, which go to
     * the destination from {@code r * runs.length} on. Runs that cross a chunk boundary are split.
     */
    void decodeRuns(StoredTensor.Runs runs, int elementBytes, RunDecoder decoder) {
        lock.readLock().lock();
        try {
            checkOpen();
            byte[] straddle = new byte[elementBytes];
            PrimitiveIterator.OfLong it = runs.offsets();
            int dst = 0;
            while (it.hasNext()) {
                long offset = it.nextLong();
                checkRange(offset, (long) runs.length * elementBytes);
                int left = runs.length;
                while (left > 0) {
                    int ci = (int) (offset / chunkBytes);
                    int in = (int) (offset - ci * chunkBytes);
                    int whole = Math.min(left, (chunks[ci].capacity() - in) / elementBytes);
                    if (whole > 0) {
                        decoder.decode(chunks[ci].slice(in, whole * elementBytes).order(ByteOrder.LITTLE_ENDIAN), whole, dst);
                    } else {
                        // this element straddles the chunk boundary: assemble its bytes from both chunks
                        whole = 1;
                        int first = chunks[ci].capacity() - in;
                        chunks[ci].get(in, straddle, 0, first);
                        chunks[ci + 1].get(0, straddle, first, elementBytes - first);
                        decoder.decode(ByteBuffer.wrap(straddle).order(ByteOrder.LITTLE_ENDIAN), 1, dst);
                    }
                    offset += (long) whole * elementBytes;
                    dst += whole;
                    left -= whole;
                }
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    private void checkOpen() {
        if (closed) throw new CheckpointException(path, "read after the weight store was closed");
    }

    private void checkRange(long offset, long len) {
        if (offset < 0 || len < 0 || offset > size - len) {
            throw new CheckpointException(path, "read of " + len + " bytes at offset " + offset
                    + " is outside the file (" + size + " bytes)");
        }
    }

    @Override public void close() {
        lock.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            for (int i = chunks.length - 1; i >= 0; i--) {
                Unmapper.unmap(chunks[i]);
                chunks[i] = null;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Unmaps a mapping now rather than when the collector finds it (Java 17 has no public API for this):
     * {@code sun.misc.Unsafe.invokeCleaner} from the jdk.unsupported module. Where that is missing the
     * mapping is left to the garbage collector, which is still correct, only later.
     */
    private static final class Unmapper {
        private static final Object UNSAFE;
        private static final Method INVOKE_CLEANER;

        static {
            Object unsafe = null;
            Method m = null;
            try {
                Class<?> c = Class.forName("sun.misc.Unsafe");
                Field f = c.getDeclaredField("theUnsafe");
                f.setAccessible(true);
                unsafe = f.get(null);
                m = c.getMethod("invokeCleaner", ByteBuffer.class);
            } catch (ReflectiveOperationException | RuntimeException e) {
                unsafe = null;
                m = null;
            }
            UNSAFE = unsafe;
            INVOKE_CLEANER = m;
        }

        static void unmap(ByteBuffer b) {
            if (INVOKE_CLEANER == null || !b.isDirect()) return;
            try {
                INVOKE_CLEANER.invoke(UNSAFE, b);
            } catch (ReflectiveOperationException e) {
                // leave it to the garbage collector
            }
        }
    }
}
