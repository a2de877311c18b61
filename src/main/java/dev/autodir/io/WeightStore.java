package dev.autodir.io;

import dev.autodir.tensor.FloatTensor;

import java.nio.file.Path;
import java.util.Set;

/**
 * A checkpoint's tensors by name, memory-mapped and read lazily: listing keys and shapes reads no
 * tensor data, and {@link #readFloat} converts one tensor (F16/BF16/F64 → F32) on request.
 * Implementations: {@code .safetensors} files and PyTorch / Lightning {@code .ckpt} zip archives.
 */
public interface WeightStore extends AutoCloseable {

    /** Opens a {@code .safetensors} or torch-zip checkpoint, chosen by content (not by name). */
    static WeightStore open(Path path) throws CheckpointException {
        return WeightStores.open(path);
    }

    Path path();

    /** Every tensor key, in file order. */
    Set<String> keys();

    boolean contains(String key);

    /** Dtype and shape of {@code key}; throws {@link CheckpointException} naming the file and the key. */
    TensorInfo info(String key);

    /** The tensor as float32 (converted from F16, BF16 or F64); integer tensors are refused. */
    FloatTensor readFloat(String key);

    /** An integer tensor (I64, I32, I16, I8, U8, BOOL) widened to long. */
    long[] readLong(String key);

    @Override void close();
}
