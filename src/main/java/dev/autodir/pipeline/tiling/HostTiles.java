package dev.autodir.pipeline.tiling;

import dev.autodir.tensor.FloatTensor;
import org.bytedeco.javacpp.Pointer;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * One feature map [B, C, H, W] kept between the sweeps of a tiled network, stored as the tiles' cores (no overlap, so
 * the map is held once) in owned native memory: outside the Java heap, so what a tiled run holds is exactly what it
 * counts, and freed by {@link #close()} (never by the garbage collector). Any window of the map can be gathered back,
 * whichever cores it spans.
 */
final class HostTiles implements AutoCloseable {
    private final int batch, channels, height, width;
    private final Rect[] cores;                 // per tile, in this map's pixels
    private final int[] rowStarts, colStarts;   // tile boundaries in this map's pixels (clipped)
    private final int cols;
    private final Pointer[] raw;
    private final FloatBuffer[] data;
    private long bytes;
    private boolean closed;

    /**
     * @param grid   the tile grid (cells)
     * @param factor pixels of this map per grid cell
     */
    HostTiles(int batch, int channels, int height, int width, TileGrid grid, int factor) {
        this.batch = batch;
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.cols = grid.cols();
        this.cores = new Rect[grid.size()];
        for (int t = 0; t < cores.length; t++) cores[t] = TiledNetwork.coreOf(grid, t, factor, height, width);
        this.rowStarts = clipped(grid.rowStarts(), factor, height);
        this.colStarts = clipped(grid.colStarts(), factor, width);
        rowStarts[rowStarts.length - 1] = height;                 // the last cores reach to the map's end
        colStarts[colStarts.length - 1] = width;
        this.raw = new Pointer[cores.length];
        this.data = new FloatBuffer[cores.length];
    }

    private static int[] clipped(int[] cells, int factor, int limit) {
        int[] p = new int[cells.length];
        for (int i = 0; i < p.length; i++) p[i] = Math.min(cells[i] * factor, limit);
        return p;
    }

    Rect core(int tile) { return cores[tile]; }

    /** Native bytes held. */
    long bytes() { return bytes; }

    /** Bytes this map takes once every core is stored. */
    static long bytesOf(int batch, int channels, int height, int width) {
        return 4L * batch * channels * height * width;
    }

    /** Stores tile {@code tile}'s core ([B, C, h, w], the core's size). */
    void put(int tile, FloatTensor core) {
        check();
        Rect c = cores[tile];
        int[] s = core.shape();
        if (s.length != 4 || s[0] != batch || s[1] != channels || s[2] != c.height() || s[3] != c.width()) {
            throw new IllegalArgumentException("tile " + tile + ": core " + java.util.Arrays.toString(s) + " does not match "
                    + c + " of a [" + batch + ", " + channels + ", " + height + ", " + width + "] map");
        }
        if (data[tile] != null) throw new IllegalStateException("tile " + tile + " is stored twice");
        long n = core.numel();
        if (n == 0) return;
        if (n > Integer.MAX_VALUE / Float.BYTES) throw new IllegalArgumentException("tile " + tile + ": a core of " + n + " floats exceeds 2 GiB; use smaller tiles");
        Pointer p = Pointer.malloc(n * Float.BYTES);
        if (p == null || p.isNull()) throw new OutOfMemoryError("tiled map: malloc of " + n * Float.BYTES + " bytes failed");
        raw[tile] = p;
        data[tile] = p.capacity(n * Float.BYTES).asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
        data[tile].put(0, core.data(), 0, (int) n);
        bytes += n * Float.BYTES;
    }

    /** The window {@code r} (inside the map) as a new host tensor [B, C, r.h, r.w]; every core it spans must be stored. */
    FloatTensor gather(Rect r) {
        check();
        if (!Rect.of(height, width).contains(r) || r.isEmpty()) {
            throw new IllegalArgumentException("window " + r + " is outside the " + height + "×" + width + " map");
        }
        FloatTensor out = FloatTensor.zeros(batch, channels, r.height(), r.width());
        float[] o = out.data();
        int rh = r.height(), rw = r.width();
        for (int tr = 0; tr + 1 < rowStarts.length; tr++) {
            if (rowStarts[tr + 1] <= r.y0() || rowStarts[tr] >= r.y1()) continue;
            for (int tc = 0; tc + 1 < colStarts.length; tc++) {
                if (colStarts[tc + 1] <= r.x0() || colStarts[tc] >= r.x1()) continue;
                int t = tr * cols + tc;
                Rect c = cores[t], in = c.intersect(r);
                if (in.isEmpty()) continue;
                FloatBuffer src = data[t];
                if (src == null) throw new IllegalStateException("tile " + t + " of the map is not stored");
                int ch = c.height(), cw = c.width();
                for (int p = 0; p < batch * channels; p++) {
                    for (int y = in.y0(); y < in.y1(); y++) {
                        int from = (p * ch + (y - c.y0())) * cw + (in.x0() - c.x0());
                        int to = (p * rh + (y - r.y0())) * rw + (in.x0() - r.x0());
                        src.get(from, o, to, in.width());
                    }
                }
            }
        }
        return out;
    }

    /** The whole map as one host tensor. */
    FloatTensor whole() { return gather(Rect.of(height, width)); }

    private void check() {
        if (closed) throw new IllegalStateException("tiled map used after it was freed");
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        for (int t = 0; t < raw.length; t++) {
            if (raw[t] != null) Pointer.free(raw[t]);
            raw[t] = null;
            data[t] = null;
        }
        bytes = 0;
    }
}
