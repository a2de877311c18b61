package dev.autodir.pipeline.tiling;

/** A window of rows [y0, y1) and columns [x0, x1) of a feature map (half-open; empty when either side is ≤ 0). */
public record Rect(int y0, int y1, int x0, int x1) {
    public static Rect of(int height, int width) { return new Rect(0, height, 0, width); }

    public int height() { return Math.max(0, y1 - y0); }

    public int width() { return Math.max(0, x1 - x0); }

    public long area() { return (long) height() * width(); }

    public boolean isEmpty() { return y1 <= y0 || x1 <= x0; }

    public boolean contains(Rect r) { return r.isEmpty() || (y0 <= r.y0 && r.y1 <= y1 && x0 <= r.x0 && r.x1 <= x1); }

    public Rect intersect(Rect r) { return new Rect(Math.max(y0, r.y0), Math.min(y1, r.y1), Math.max(x0, r.x0), Math.min(x1, r.x1)); }

    /** The bounding box of both (an empty side is ignored). */
    public Rect union(Rect r) {
        if (isEmpty()) return r;
        if (r.isEmpty()) return this;
        return new Rect(Math.min(y0, r.y0), Math.max(y1, r.y1), Math.min(x0, r.x0), Math.max(x1, r.x1));
    }

    /** Both sides scaled by {@code f} (the same window at an f times finer resolution). */
    public Rect scale(int f) { return new Rect(y0 * f, y1 * f, x0 * f, x1 * f); }

    /** This window clipped to a map of {@code height}×{@code width}. */
    public Rect clip(int height, int width) { return intersect(of(height, width)); }

    /** Grown by {@code m} on every side, then clipped to the map. */
    public Rect grow(int m, int height, int width) { return new Rect(y0 - m, y1 + m, x0 - m, x1 + m).clip(height, width); }

    @Override public String toString() { return "[" + y0 + ":" + y1 + ", " + x0 + ":" + x1 + "]"; }
}
