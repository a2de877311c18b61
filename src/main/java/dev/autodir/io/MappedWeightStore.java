package dev.autodir.io;

import dev.autodir.tensor.FloatTensor;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The one {@link WeightStore} implementation: a memory-mapped file plus a table of where each tensor
 * lies in it. Both formats build this table at open, reading no tensor data; a read converts one
 * tensor from the mapping straight into a new float32 (or int64) array.
 */
final class MappedWeightStore implements WeightStore {
    private final MappedFile file;
    private final String format;
    private final Map<String, StoredTensor> tensors;

    MappedWeightStore(MappedFile file, String format, LinkedHashMap<String, StoredTensor> tensors) {
        this.file = file;
        this.format = format;
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    @Override public Path path() { return file.path(); }

    @Override public Set<String> keys() { return tensors.keySet(); }

    @Override public boolean contains(String key) { return tensors.containsKey(key); }

    @Override public TensorInfo info(String key) { return stored(key).info(); }

    private StoredTensor stored(String key) {
        StoredTensor t = tensors.get(key);
        if (t == null) throw new CheckpointException(file.path(), "no tensor named \"" + key + "\"");
        return t;
    }

    @Override public FloatTensor readFloat(String key) {
        StoredTensor t = stored(key);
        DType dtype = t.info().dtype();
        if (!dtype.isFloat()) {
            throw new CheckpointException(file.path(), "tensor \"" + key + "\" is " + dtype
                    + ", not a float type (read it with readLong)");
        }
        float[] out;
        try {
            checkFits(t, 4);
            out = new float[elementCount(t)];
        } catch (OutOfMemoryError e) {
            throw tooLarge(t, 4);
        }
        file.decodeRuns(t.runs(), dtype.bytes(), (src, n, pos) -> Decode.toFloat(dtype, src, out, pos, n));
        return new FloatTensor(out, t.info().shape());
    }

    @Override public long[] readLong(String key) {
        StoredTensor t = stored(key);
        DType dtype = t.info().dtype();
        if (dtype.isFloat()) {
            throw new CheckpointException(file.path(), "tensor \"" + key + "\" is " + dtype
                    + ", not an integer type (read it with readFloat)");
        }
        long[] out;
        try {
            checkFits(t, 8);
            out = new long[elementCount(t)];
        } catch (OutOfMemoryError e) {
            throw tooLarge(t, 8);
        }
        file.decodeRuns(t.runs(), dtype.bytes(), (src, n, pos) -> Decode.toLong(dtype, src, out, pos, n));
        return out;
    }

    /** A read whose result can never fit the heap fails with the numbers, before trying (and instead of OutOfMemoryError). */
    private void checkFits(StoredTensor t, int bytesPerElement) {
        if (t.info().numel() > Runtime.getRuntime().maxMemory() / bytesPerElement) throw tooLarge(t, bytesPerElement);
    }

    private CheckpointException tooLarge(StoredTensor t, int bytesPerElement) {
        long mib = (long) (t.info().numel() * (double) bytesPerElement / (1 << 20));
        Runtime rt = Runtime.getRuntime();
        return new CheckpointException(file.path(), "tensor " + t.info() + " needs " + mib + " MiB as "
                + (bytesPerElement == 4 ? "float32" : "int64") + "; the Java heap cannot hold it (maximum " + (rt.maxMemory() >> 20)
                + " MiB, " + ((rt.maxMemory() - rt.totalMemory() + rt.freeMemory()) >> 20) + " MiB free); raise it with -Xmx");
    }

    private int elementCount(StoredTensor t) {
        long n = t.info().numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new CheckpointException(file.path(), "tensor " + t.info() + " has " + n
                    + " elements, more than a Java array can hold");
        }
        return (int) n;
    }

    @Override public void close() { file.close(); }

    @Override public String toString() { return format + " " + file.path() + " (" + tensors.size() + " tensors)"; }
}
