package dev.autodir.backend.cpu;

import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;

/**
 * A checkpoint tensor as {@link CpuOps#weight} hands it out: its values on the heap, in native memory in
 * the layouts its matrix products asked for, or both.
 *
 * <p>Why: OpenBLAS reads native memory only, so every weight used as a matrix (convolutions, linear
 * layers) gets a native copy in its path's layout on first use. Keeping the heap array as well would
 * hold each such weight twice (3.44 GB more for the SD-1.5 UNet). So the values are read from the store
 * once, when the weight is first asked for, and the heap array is dropped as soon as a native layout
 * has been built from it. Weights that only ever serve as heap data (biases, norm scales, depthwise
 * kernels, embedding tables) keep their heap array and never get a native copy.
 *
 * <p>When an operation needs heap values after they were dropped (a weight used both ways, or asked for
 * a second native layout), they are copied back from the plain native layout when there is one, or
 * read from the store again; {@link #storeReads()} counts the reads. Values brought back for heap use
 * are kept from then on, so alternating uses do not read the store each time; building a layout drops
 * them again, and there are at most {@link Layout#values()} layouts to build.
 *
 * <p>Owns its native memory: {@link CpuOps#close()} frees it through {@link #free()}. {@link #close()}
 * does nothing, because a cached weight is shared by every caller until the backend closes.
 */
final class CpuWeight implements Tensor {

    /** The native layouts a weight can take, one per kind of matrix product that reads it. */
    enum Layout {
        /** The checkpoint's own row-major order: linear layers, 1×1 and im2col convolutions. */
        PLAIN,
        /** [kh·kw][Cout][Cin]: one matrix per kernel tap, for the shifted-window convolution. */
        TAPS,
        /** [16][Cout][Cin]: a 3×3 kernel in the Winograd F(2×2, 3×3) domain, 16/9 of the weight. */
        WINOGRAD;

        /** Floats of this layout for a weight of {@code shape}. */
        long size(int[] shape) {
            long n = FloatTensor.numel(shape);
            return this == WINOGRAD ? n / 9 * 16 : n;
        }
    }

    /** Writes a weight's values in one layout into native memory of {@link Layout#size} floats. */
    @FunctionalInterface interface LayoutWriter { void write(FloatTensor values, NativeFloats dst); }

    private final WeightStore store;
    private final String key;
    private final int[] shape;
    private FloatTensor heap;
    private final Map<Layout, NativeFloats> layouts = new EnumMap<>(Layout.class);
    private int storeReads;
    private boolean freed;

    /** Reads {@code key} from {@code store} (the first of {@link #storeReads()}). */
    CpuWeight(WeightStore store, String key) {
        this.store = store;
        this.key = key;
        this.heap = store.readFloat(key);
        this.storeReads = 1;
        this.shape = heap.shape();
    }

    @Override public int[] shape() { return shape.clone(); }

    String key() { return key; }

    /**
     * The values on the heap, kept from now on. Copied back from the plain native layout, or read from
     * the store again, if a native layout was built since they were last needed.
     */
    synchronized FloatTensor heap() {
        checkLive();
        if (heap == null) heap = values();
        return heap;
    }

    /** A fresh heap copy of the values, without keeping heap data. */
    synchronized FloatTensor copy() {
        checkLive();
        return heap != null ? heap.copy() : values();
    }

    /**
     * The weight in {@code layout}, built by {@code writer} on first use and kept; building it drops the
     * heap values (see the class comment).
     */
    synchronized NativeFloats layout(Layout layout, LayoutWriter writer) {
        checkLive();
        NativeFloats n = layouts.get(layout);
        if (n != null) return n;
        FloatTensor values = heap != null ? heap : values();
        n = new NativeFloats("weight " + key + " " + layout.name().toLowerCase(java.util.Locale.ROOT)
                + " " + Arrays.toString(shape), layout.size(shape));
        try {
            writer.write(values, n);
        } catch (RuntimeException | Error e) {
            n.close();
            throw e;
        }
        layouts.put(layout, n);
        heap = null;
        return n;
    }

    /** Whether the values are on the heap now (for tests). */
    synchronized boolean onHeap() { return heap != null; }

    /** Whether {@code layout} has been built (for tests). */
    synchronized boolean has(Layout layout) { return layouts.containsKey(layout); }

    /** How many times this weight read its store (1 unless heap values were needed after being dropped). */
    synchronized int storeReads() { return storeReads; }

    /** Native bytes held by this weight's layouts. */
    synchronized long nativeBytes() {
        long b = 0;
        for (NativeFloats n : layouts.values()) b += n.capacity() * Float.BYTES;
        return b;
    }

    /** Heap values rebuilt: from the plain layout if there is one (exact), else from the store. */
    private FloatTensor values() {
        NativeFloats plain = layouts.get(Layout.PLAIN);
        if (plain != null) {
            FloatTensor t = FloatTensor.zeros(shape);
            plain.get(0, t.data(), 0, t.numel());
            return t;
        }
        FloatTensor t = store.readFloat(key);
        storeReads++;
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalStateException("weight \"" + key + "\" of " + store.path() + " was " + Arrays.toString(shape)
                    + " when first read and is " + Arrays.toString(t.shape()) + " now");
        }
        return t;
    }

    private void checkLive() {
        if (freed) throw new IllegalStateException("weight \"" + key + "\" belongs to a closed cpu backend");
    }

    /** Frees the native layouts and the heap values; the weight is unusable afterwards. */
    synchronized void free() {
        freed = true;
        for (NativeFloats n : layouts.values()) n.close();
        layouts.clear();
        heap = null;
    }

    /** Nothing: a cached weight lives until its backend closes. */
    @Override public void close() { }

    @Override public String toString() { return "CpuWeight[" + key + " " + Arrays.toString(shape) + "]"; }
}
