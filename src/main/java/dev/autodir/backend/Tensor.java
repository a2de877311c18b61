package dev.autodir.backend;

/**
 * A tensor owned by a backend: float32 on the cpu backend, float16 or float32 in device memory on the
 * cuda backend, or int32 (token ids, masks, indices) on any. Layout is row-major; images and latents are NCHW,
 * sequences [batch, tokens, width].
 *
 * <p>Tensors returned by {@link Ops} are transient: they belong to the backend's scratch memory and
 * stay valid until the backend's {@link Ops#endStage()}. Outputs of a compiled network stay valid until that
 * network runs again or is closed. Data that must outlive both is brought to the host with {@link Ops#download}.
 * {@link #close()} releases a tensor early where the backend can.
 */
public interface Tensor extends AutoCloseable {
    int[] shape();

    /** The element type; float tensors are {@link DataType#FLOAT32} unless a backend stores them as float16. */
    default DataType dataType() { return DataType.FLOAT32; }

    @Override void close();
}
