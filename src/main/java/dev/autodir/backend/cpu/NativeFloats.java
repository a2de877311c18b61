package dev.autodir.backend.cpu;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * An owned block of native float memory that OpenBLAS reads and writes without JNI array copies.
 *
 * <p>Allocated with {@code malloc} outside JavaCPP's accounting (so it never triggers JavaCPP's
 * GC-driven limits) and freed by {@link #close()}; nothing relies on the garbage collector. Java reads
 * and writes it through a direct buffer in native byte order: bulk {@code put}/{@code get} for copies
 * (one memcpy each) and {@link #bytes()} for Vector API loops.
 */
final class NativeFloats implements AutoCloseable {
    private final String name;
    private Pointer raw;
    private FloatPointer pointer;
    private ByteBuffer bytes;
    private FloatBuffer floats;
    private long capacity;

    NativeFloats(String name) { this.name = name; }

    NativeFloats(String name, long size) {
        this(name);
        ensure(size);
    }

    /** Grows to at least {@code size} floats (contents are not kept when it grows). */
    NativeFloats ensure(long size) {
        if (size <= capacity) return this;
        if (size > Integer.MAX_VALUE / Float.BYTES) {
            throw new IllegalArgumentException(name + ": native buffer of " + size + " floats exceeds 2 GiB");
        }
        free();
        long cap = Math.max(size, capacity + capacity / 4);
        cap = Math.min(cap, Integer.MAX_VALUE / Float.BYTES);
        raw = Pointer.malloc(cap * Float.BYTES);
        if (raw == null || raw.isNull()) {
            raw = null;
            throw new OutOfMemoryError(name + ": malloc of " + cap * Float.BYTES + " bytes failed");
        }
        pointer = new FloatPointer(raw);
        pointer.capacity(cap).limit(cap);
        bytes = pointer.asByteBuffer();
        floats = bytes.asFloatBuffer();
        capacity = cap;
        return this;
    }

    long capacity() { return capacity; }

    /** The pointer at float offset {@code offset} (a fresh view; the base pointer is not moved). */
    FloatPointer at(long offset) {
        if (offset == 0) return pointer;
        return new FloatPointer(pointer).position(offset);
    }

    /** Native-order bytes over the whole block (absolute accesses only). */
    ByteBuffer bytes() { return bytes; }

    /** Copies {@code len} floats of {@code src} from {@code srcOff} to float index {@code dst}. */
    void put(long dst, float[] src, int srcOff, int len) { floats.put(Math.toIntExact(dst), src, srcOff, len); }

    /** Copies {@code len} floats from float index {@code src} into {@code dst} at {@code dstOff}. */
    void get(long src, float[] dst, int dstOff, int len) { floats.get(Math.toIntExact(src), dst, dstOff, len); }

    private void free() {
        if (raw != null) {
            Pointer.free(raw);
            raw = null;
            pointer = null;
            bytes = null;
            floats = null;
            capacity = 0;
        }
    }

    @Override public void close() { free(); }
}
