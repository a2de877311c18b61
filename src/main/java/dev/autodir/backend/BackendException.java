package dev.autodir.backend;

/**
 * A stage cannot run as asked and fallback is not allowed ({@link Backends#create(BackendSpec, Precision, boolean,
 * java.io.PrintStream) strict} mode): the message names the stage, the backend asked for and why it cannot run.
 */
public final class BackendException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BackendException(String message) {
        super(message);
    }
}
