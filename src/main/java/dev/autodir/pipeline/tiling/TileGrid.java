package dev.autodir.pipeline.tiling;

import java.util.ArrayList;
import java.util.List;

/**
 * A partition of a map of {@code height}×{@code width} cells into rows × columns of cores, each side at most
 * {@code core} cells and the sides as equal as the division allows (a 100-cell side with core 64 gives 50 + 50, not
 * 64 + 36). Cores do not overlap and cover every cell once: what a tile contributes to a whole-map result.
 */
public final class TileGrid {
    private final int height, width;
    private final int[] rowStarts, colStarts;   // n + 1 boundaries each

    public TileGrid(int height, int width, int core) {
        if (height < 1 || width < 1) throw new IllegalArgumentException("a tile grid needs a non-empty map, got " + height + "×" + width);
        if (core < 1) throw new IllegalArgumentException("tile core must be at least one cell, got " + core);
        this.height = height;
        this.width = width;
        this.rowStarts = split(height, core);
        this.colStarts = split(width, core);
    }

    /** n + 1 boundaries of ceil(length / core) parts as equal as possible. */
    static int[] split(int length, int core) {
        int n = (length + core - 1) / core;
        int[] b = new int[n + 1];
        for (int i = 0; i <= n; i++) b[i] = (int) ((long) length * i / n);
        return b;
    }

    public int height() { return height; }

    public int width() { return width; }

    public int rows() { return rowStarts.length - 1; }

    public int cols() { return colStarts.length - 1; }

    public int size() { return rows() * cols(); }

    /** The core of tile {@code t} (row-major order) in cells. */
    public Rect core(int t) {
        int r = t / cols(), c = t % cols();
        return new Rect(rowStarts[r], rowStarts[r + 1], colStarts[c], colStarts[c + 1]);
    }

    /** Boundaries of the tile rows in cells (rows() + 1 values). */
    int[] rowStarts() { return rowStarts.clone(); }

    int[] colStarts() { return colStarts.clone(); }

    public List<Rect> cores() {
        List<Rect> l = new ArrayList<>(size());
        for (int t = 0; t < size(); t++) l.add(core(t));
        return l;
    }

    @Override public String toString() { return rows() + "×" + cols() + " tiles over " + height + "×" + width + " cells"; }
}
