package dev.autodir.backend.cuda;

/**
 * The span during which transient tensors stay valid: one stage (until {@code endStage()}), a graph warm-up,
 * or a captured CUDA graph (until the graph is closed). Using a tensor whose lifetime has ended throws
 * instead of reading memory that now belongs to another tensor.
 */
final class Lifetime {
    private final String name;
    private boolean alive = true;

    Lifetime(String name) { this.name = name; }

    boolean alive() { return alive; }

    void end() { alive = false; }

    String name() { return name; }

    @Override public String toString() { return name + (alive ? "" : " (ended)"); }
}
