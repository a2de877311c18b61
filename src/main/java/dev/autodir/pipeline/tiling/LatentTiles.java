package dev.autodir.pipeline.tiling;

import dev.autodir.tensor.FloatTensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Where the overlapping latent tiles of tiled diffusion go, and how their outputs are blended (Mixture of Diffusers,
 * Jiménez 2023): tiles of {@code tile}×{@code tile} latent pixels spread evenly so that neighbours overlap by at
 * least {@code overlap}, each weighted by a Gaussian centred on the tile with σ = {@link #SIGMA_FRACTION} of its side
 * (lowered to vanish at the tile's edge), normalised so that the weights of every latent pixel sum to one. A latent no larger than a tile is one tile with
 * weight exactly 1 everywhere (x / x = 1 in IEEE arithmetic), so tiled then equals untiled.
 */
public final class LatentTiles {
    /** σ of the blending Gaussian as a fraction of the tile side (the references use 0.1–0.3). */
    public static final double SIGMA_FRACTION = 0.2;

    private final int height, width, tileH, tileW;
    private final List<Rect> tiles;
    private final float[][] weights;            // per tile [tileH·tileW], normalised over all tiles

    /**
     * @param height, width the latent's size
     * @param tile          tile side (a multiple of {@code multiple})
     * @param overlap       least overlap between neighbouring tiles
     * @param multiple      tile positions and sides are multiples of this (the UNet's size multiple in the latent)
     */
    public LatentTiles(int height, int width, int tile, int overlap, int multiple) {
        this(height, width, tile, overlap, multiple, SIGMA_FRACTION);
    }

    /** With another σ fraction (tests: a tiny σ approaches a hard cut between tiles). */
    LatentTiles(int height, int width, int tile, int overlap, int multiple, double sigmaFraction) {
        if (tile < multiple || tile % multiple != 0) {
            throw new IllegalArgumentException("latent tile side " + tile + " must be a positive multiple of " + multiple + " (the UNet's size multiple)");
        }
        if (overlap < 0 || overlap >= tile) throw new IllegalArgumentException("tile overlap " + overlap + " must be in 0.." + (tile - 1));
        this.height = height;
        this.width = width;
        this.tileH = Math.min(tile, height);
        this.tileW = Math.min(tile, width);
        int[] ys = positions(height, tileH, overlap, multiple), xs = positions(width, tileW, overlap, multiple);
        tiles = new ArrayList<>();
        for (int y : ys) for (int x : xs) tiles.add(new Rect(y, y + tileH, x, x + tileW));
        double[] sum = new double[height * width];
        double[][] g = new double[tiles.size()][];
        for (int t = 0; t < tiles.size(); t++) {
            g[t] = gaussian(tileH, tileW, sigmaFraction);
            Rect r = tiles.get(t);
            for (int y = 0; y < tileH; y++) for (int x = 0; x < tileW; x++) sum[(r.y0() + y) * width + r.x0() + x] += g[t][y * tileW + x];
        }
        weights = new float[tiles.size()][];
        for (int t = 0; t < tiles.size(); t++) {
            Rect r = tiles.get(t);
            float[] w = new float[tileH * tileW];
            for (int y = 0; y < tileH; y++) {
                for (int x = 0; x < tileW; x++) w[y * tileW + x] = (float) (g[t][y * tileW + x] / sum[(r.y0() + y) * width + r.x0() + x]);
            }
            weights[t] = w;
        }
    }

    /** Starts of the tiles along one side: evenly spread, multiples of {@code m}, the last one flush with the end. */
    public static int[] positions(int length, int tile, int overlap, int m) {
        if (length <= tile) return new int[] {0};
        int stride = tile - overlap;
        int n = 1 + (length - tile + stride - 1) / stride;
        int[] p = new int[n];
        int span = (length - tile) / m;                          // in units of m
        for (int i = 0; i < n; i++) p[i] = m * (int) Math.round((double) i * span / (n - 1));
        p[n - 1] = length - tile;
        return p;
    }

    /**
     * A separable Gaussian per tile, each axis lowered by its value half a pixel outside the tile so that a tile's
     * weight falls to nearly 0 at its own edge instead of stopping at exp(−(side/2)²/2σ²) (≈ 4% of the centre for
     * σ = 0.2·side): a truncated Gaussian leaves a small step in the blend where a tile ends.
     */
    private static double[] gaussian(int h, int w, double sigmaFraction) {
        double[] gy = axis(h, sigmaFraction), gx = axis(w, sigmaFraction);
        double[] g = new double[h * w];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) g[y * w + x] = gy[y] * gx[x];
        return g;
    }

    private static double[] axis(int n, double sigmaFraction) {
        double s = sigmaFraction * n, c = (n - 1) / 2.0;
        double edge = Math.exp(-0.5 * Math.pow((c + 1) / s, 2));          // the value one pixel beyond the tile
        double[] g = new double[n];
        for (int i = 0; i < n; i++) g[i] = Math.exp(-0.5 * Math.pow((i - c) / s, 2)) - edge;
        return g;
    }

    public int size() { return tiles.size(); }

    public Rect tile(int t) { return tiles.get(t); }

    public int tileHeight() { return tileH; }

    public int tileWidth() { return tileW; }

    /** Tile {@code t}'s blending weights [1, channels, tileH, tileW] (the same for every channel). */
    public FloatTensor weight(int t, int channels) {
        float[] w = weights[t], d = new float[channels * w.length];
        for (int c = 0; c < channels; c++) System.arraycopy(w, 0, d, c * w.length, w.length);
        return new FloatTensor(d, 1, channels, tileH, tileW);
    }

    @Override public String toString() {
        return tiles.size() + " tiles of " + tileH + "×" + tileW + " over a " + height + "×" + width + " latent";
    }
}
