package dev.autodir.pipeline;

/** A stage produced NaN or infinity: the weights or the input are broken; the image is stopped, nothing is written. */
public final class NonFiniteException extends RuntimeException {
    public NonFiniteException(String message) { super(message); }
}
