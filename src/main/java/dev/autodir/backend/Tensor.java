package dev.autodir.backend;

/**
 * A tensor owned by a backend: float32 on the cpu backend, float16 or float32 in device memory on the
 * cuda backend. Layout is row-major; images and latents are NCHW, sequences [batch, tokens, width].
 *
 * <p>Tensors returned by {@link Ops} are transient: they belong to the backend's scratch memory and
 * stay valid until the backend's {@link Ops#endStage()}. Data that must outlive a stage is brought to
 * the host with {@link Ops#download}. {@link #close()} releases a tensor early where the backend can.
 */
public interface Tensor extends AutoCloseable {
    int[] shape();

    @Override void close();
}
