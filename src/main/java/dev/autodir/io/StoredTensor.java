package dev.autodir.io;

import java.util.Arrays;
import java.util.NoSuchElementException;
import java.util.PrimitiveIterator;

/**
 * Where a tensor's elements lie in the mapped file: the byte where its storage starts, the element
 * offset into that storage and one stride per dimension (in elements), as torch views have them.
 * A safetensors tensor is the contiguous case with offset 0.
 */
record StoredTensor(TensorInfo info, long storageStart, long storageBytes, long offset, long[] strides) {

    static StoredTensor contiguous(TensorInfo info, long start, long bytes) {
        return new StoredTensor(info, start, bytes, 0, contiguousStrides(info.shape()));
    }

    static long[] contiguousStrides(int[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            s[d] = acc;
            acc = Math.multiplyExact(acc, Math.max(shape[d], 1)); // fits: TensorInfo checked the product
        }
        return s;
    }

    /**
     * How many storage elements the view reaches, first to last (numel > 0); a contiguous or permuted view
     * reaches exactly numel, a strided slice more, an expanded (stride 0) or overlapping view fewer.
     * Valid only after {@link #boundsProblem} returned null.
     */
    long span() {
        int[] shape = info.shape();
        long last = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 0) return 0;
            last += (shape[d] - 1L) * strides[d];
        }
        return last + 1;
    }

    /**
     * Checks that every element of the view lies inside its storage; returns null when it does, else
     * the problem in words.
     */
    String boundsProblem() {
        int[] shape = info.shape();
        int es = info.dtype().bytes();
        if (offset < 0) return "negative storage offset " + offset;
        if (strides.length != shape.length) return "shape and strides differ in rank";
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] < 0) return "negative dimension in shape " + Arrays.toString(shape);
            if (strides[d] < 0) return "negative stride in " + Arrays.toString(strides);
        }
        if (info.numel() == 0) return null;
        long storageElements = storageBytes / es;
        try {
            long last = offset;
            for (int d = 0; d < shape.length; d++) last = Math.addExact(last, Math.multiplyExact(shape[d] - 1L, strides[d]));
            if (last >= storageElements) {
                return "storage holds " + storageElements + " " + info.dtype() + " elements (" + storageBytes
                        + " bytes) but the tensor " + Arrays.toString(shape) + " with offset " + offset + " and strides "
                        + Arrays.toString(strides) + " needs " + (last + 1);
            }
        } catch (ArithmeticException e) {
            return "shape " + Arrays.toString(shape) + " with strides " + Arrays.toString(strides) + " overflows";
        }
        return null;
    }

    /**
     * The view as runs of contiguous elements. Size-1 dimensions are dropped and dimensions that are
     * contiguous with the next one are merged, so a contiguous tensor is one run.
     */
    Runs runs() {
        int[] shape = info.shape();
        int n = 0;
        int[] size = new int[shape.length];
        long[] stride = new long[shape.length];
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 0) return new Runs(0, 0, new int[0], new long[0], 0, 0);
            if (shape[d] == 1) continue;
            // (shape - 1) · stride fits (boundsProblem), so shape · stride overflows only past Long.MAX_VALUE:
            // compare without multiplying
            if (n > 0 && strides[d] != 0 && stride[n - 1] % strides[d] == 0 && stride[n - 1] / strides[d] == shape[d]) {
                size[n - 1] = Math.multiplyExact(size[n - 1], shape[d]); // merge with the previous (outer) dimension
                stride[n - 1] = strides[d];
            } else {
                size[n] = shape[d];
                stride[n] = strides[d];
                n++;
            }
        }
        long base = Math.addExact(storageStart, Math.multiplyExact(offset, info.dtype().bytes()));
        if (n > 0 && stride[n - 1] == 1) {
            return new Runs(base, info.dtype().bytes(), size, stride, n - 1, size[n - 1]);
        }
        return new Runs(base, info.dtype().bytes(), size, stride, n, 1); // strided innermost: one element per run
    }

    /** Runs of {@code length} contiguous elements over the odometer of the outer dimensions. */
    static final class Runs {
        private final long base;
        private final int elementBytes;
        private final int[] size;
        private final long[] stride;
        private final int outerDims;
        final int length;
        final long count;

        Runs(long base, int elementBytes, int[] size, long[] stride, int outerDims, int length) {
            this.base = base;
            this.elementBytes = elementBytes;
            this.size = size;
            this.stride = stride;
            this.outerDims = outerDims;
            this.length = length;
            long c = length == 0 ? 0 : 1;
            for (int d = 0; d < outerDims; d++) c *= size[d];
            this.count = c;
        }

        /** Byte offsets of the runs, in row-major order of the view. */
        PrimitiveIterator.OfLong offsets() {
            return new PrimitiveIterator.OfLong() {
                private final int[] idx = new int[outerDims];
                private long elem;
                private long done;

                @Override public boolean hasNext() { return done < count; }

                @Override public long nextLong() {
                    if (done >= count) throw new NoSuchElementException();
                    long at = base + elem * elementBytes;
                    done++;
                    for (int d = outerDims - 1; d >= 0; d--) {
                        elem += stride[d];
                        if (++idx[d] < size[d]) break;
                        elem -= stride[d] * size[d];
                        idx[d] = 0;
                    }
                    return at;
                }
            };
        }
    }

    @Override public boolean equals(Object o) {
        return o instanceof StoredTensor t && t.info.equals(info) && t.storageStart == storageStart
                && t.storageBytes == storageBytes && t.offset == offset && Arrays.equals(t.strides, strides);
    }

    @Override public int hashCode() { return info.hashCode() * 31 + Long.hashCode(storageStart); }

    @Override public String toString() {
        return info + " at " + storageStart + "+" + offset + " strides " + Arrays.toString(strides);
    }
}
