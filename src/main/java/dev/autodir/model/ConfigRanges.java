package dev.autodir.model;

import java.util.List;

/**
 * The ranges the config records accept (from a YAML file or inferred from shapes): wide enough for any
 * SD-style model, narrow enough that a hostile value (a billion res blocks, a NaN epsilon) is refused before
 * anything is built from it. A value outside is an {@link IllegalArgumentException} naming it.
 */
final class ConfigRanges {
    private ConfigRanges() { }

    /** Channels, widths, vocabulary sizes, positions. */
    static final int MAX_WIDTH = 1 << 20;
    /** Layers, blocks per level, transformer depth. */
    static final int MAX_DEPTH = 256;
    /** Resolution levels (each halves the size). */
    static final int MAX_LEVELS = 8;

    static void in(String what, int v, int lo, int hi) {
        if (v < lo || v > hi) throw new IllegalArgumentException(what + " must be in " + lo + ".." + hi + ", got " + v);
    }

    static void list(String what, List<Integer> l, int minSize, int maxSize, int lo, int hi) {
        if (l.size() < minSize || l.size() > maxSize) {
            throw new IllegalArgumentException(what + " must have " + minSize + ".." + maxSize + " entries, got " + l.size());
        }
        for (int v : l) in(what + " entry", v, lo, hi);
    }

    /** A layer-norm epsilon: finite and in (0, 1). */
    static void epsilon(String what, float v) {
        if (!(v > 0f && v < 1f)) throw new IllegalArgumentException(what + " must be in (0, 1), got " + v);
    }
}
