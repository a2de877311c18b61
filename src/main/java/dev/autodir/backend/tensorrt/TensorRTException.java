package dev.autodir.backend.tensorrt;

/** A TensorRT call failed; the message names the network, the step and TensorRT's own error. */
public final class TensorRTException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public TensorRTException(String message) { super(message); }
}
