package dev.autodir.pipeline;

import dev.autodir.image.Quantization;
import dev.autodir.image.RgbImageReader;
import dev.autodir.tensor.FloatTensor;

/**
 * The official script's {@code --need-resize} ({@code eval_w_SCM.py}, resolution R = {@code --resolution}, 768 there):
 * an image with a side shorter than R is scaled, with PIL's {@code ImageOps.fit(image, (W', H'), LANCZOS)}, to
 * W' = ⌊w·f/64⌋·64, H' = ⌊h·f/64⌋·64 with f = ⌈R/64⌉·64 / min(w, h) (the short side becomes R rounded up to 64; fit
 * crops the centre to the new aspect ratio first); then an R×R square is cut. An image whose sides are both at least R
 * is only cut. The official script cuts at a random position ({@code np.random.randint}); we cut the centre square,
 * at ((W' − R) div 2, (H' − R) div 2), so a run is reproducible.
 *
 * <p>The resampling is PIL's (Pillow 9.4 {@code Resample.c}) on 8-bit levels, as the official script resizes the
 * 8-bit image it read: separable Lanczos-3 (support 3·max(1, scale)), coefficients normalised, rounded to 22-bit
 * fixed point, a horizontal then a vertical pass, each rounded and clipped to 0..255. Float inputs are first rounded to
 * the nearest 8-bit level (exact for 8-bit sources; a 16-bit source loses its low bits, as PIL's 8-bit conversion
 * does).
 */
public final class NeedResize {
    /** The smallest and largest resolution accepted. */
    public static final int MIN_SIDE = 64, MAX_SIDE = 8192;
    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final double LANCZOS_SUPPORT = 3.0;

    private NeedResize() { }

    /** image [1, 3, h, w] in [-1, 1] → [1, 3, R, R] in [-1, 1]. */
    public static FloatTensor apply(FloatTensor image, int resolution) {
        if (image.rank() != 4 || image.dim(0) != 1 || image.dim(1) != 3) {
            throw new IllegalArgumentException("need-resize expects one RGB image [1, 3, H, W], got " + image);
        }
        if (resolution < MIN_SIDE || resolution > MAX_SIDE) {
            throw new IllegalArgumentException("need-resize: resolution must be in " + MIN_SIDE + ".." + MAX_SIDE + ", got " + resolution);
        }
        int h = image.dim(2), w = image.dim(3);
        checkCover(w, h, resolution);
        int[] levels = toLevels(image.data());
        if (w < resolution || h < resolution) {
            int[] size = coverSize(w, h, resolution);
            levels = fit(levels, w, h, size[0], size[1]);
            w = size[0];
            h = size[1];
        }
        int left = (w - resolution) / 2, top = (h - resolution) / 2;
        float[] out = new float[3 * resolution * resolution];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < resolution; y++) {
                for (int x = 0; x < resolution; x++) {
                    out[(c * resolution + y) * resolution + x] = Quantization.fromUint8(levels[(c * h + y + top) * w + x + left]);
                }
            }
        }
        return new FloatTensor(out, 1, 3, resolution, resolution);
    }

    /**
     * Refuses an image whose intermediate cover image (the official W' × H', before the square is cut) would be over the
     * image limits ({@link RgbImageReader.ReadOptions#DEFAULT}: 100 megapixels, 16384 per side): a very thin image
     * scaled so that its short side reaches R. Cheap: callers check before decoding.
     */
    public static void checkCover(int w, int h, int resolution) {
        if (w >= resolution && h >= resolution) return;
        int[] size = coverSize(w, h, resolution);
        RgbImageReader.ReadOptions limits = RgbImageReader.ReadOptions.DEFAULT;
        if ((long) size[0] * size[1] > limits.maxPixels() || size[0] > limits.maxSide() || size[1] > limits.maxSide()) {
            throw new IllegalArgumentException("need-resize: a " + w + "x" + h + " image would be scaled to " + size[0] + "x" + size[1]
                    + " to cover " + resolution + " before the square is cut, over the image limits (" + limits.maxPixels() / 1_000_000
                    + " megapixels, " + limits.maxSide() + " pixels per side)");
        }
    }

    /** The official W', H' for an image w×h with a side below R (Python's float arithmetic, which Java's doubles repeat). */
    static int[] coverSize(int w, int h, int resolution) {
        int m = Math.min(w, h);
        double factor = (double) resolution / m;
        factor = Math.ceil(m * factor / 64) * 64 / m;
        return new int[] {(int) Math.floor(w * factor / 64) * 64, (int) Math.floor(h * factor / 64) * 64};
    }

    private static int[] toLevels(float[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            float x = v[i];
            long u = Math.round((x + 1.0) * 255.0 / 2.0);
            out[i] = (int) Math.max(0, Math.min(255, Float.isNaN(x) ? 0 : u));
        }
        return out;
    }

    /**
     * {@code ImageOps.fit(image, (outW, outH), LANCZOS)} (bleed 0, centering (0.5, 0.5)) on channel-major levels:
     * the centred crop box of the output's aspect ratio, then {@link #resize} of that box.
     */
    static int[] fit(int[] levels, int w, int h, int outW, int outH) {
        double liveRatio = (double) w / h, outRatio = (double) outW / outH;
        double cropW, cropH;
        if (liveRatio == outRatio) {
            cropW = w;
            cropH = h;
        } else if (liveRatio >= outRatio) {
            cropW = outRatio * h;
            cropH = h;
        } else {
            cropW = w;
            cropH = w / outRatio;
        }
        double left = (w - cropW) * 0.5, top = (h - cropH) * 0.5;
        // PIL hands the box to C as float[4]
        float[] box = {(float) left, (float) top, (float) (left + cropW), (float) (top + cropH)};
        return resize(levels, w, h, outW, outH, box);
    }

    /** PIL's {@code ImagingResampleInner} with the Lanczos filter, on 3 channel-major planes of 8-bit levels. */
    static int[] resize(int[] levels, int w, int h, int outW, int outH, float[] box) {
        boolean horizontal = outW != w || box[0] != 0 || box[2] != outW;
        boolean vertical = outH != h || box[1] != 0 || box[3] != outH;
        Coefficients vert = Coefficients.of(h, box[1], box[3], outH);
        int first = vert.bounds[0], last = vert.bounds[2 * outH - 2] + vert.bounds[2 * outH - 1];
        int[] cur = levels;
        int curW = w, curH = h, rowOffset = 0;
        if (horizontal) {
            Coefficients hor = Coefficients.of(w, box[0], box[2], outW);
            int rows = last - first;
            int[] tmp = new int[3 * rows * outW];
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < rows; y++) {
                    int in = (c * h + y + first) * w, out = (c * rows + y) * outW;
                    for (int x = 0; x < outW; x++) tmp[out + x] = hor.apply(cur, in, 1, x);
                }
            }
            cur = tmp;
            curW = outW;
            curH = rows;
            rowOffset = first;
        }
        if (vertical) {
            int[] out = new int[3 * outH * curW];
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < outH; y++) {
                    for (int x = 0; x < curW; x++) {
                        out[(c * outH + y) * curW + x] = vert.apply(cur, c * curH * curW - rowOffset * curW + x, curW, y);
                    }
                }
            }
            cur = out;
        }
        return cur;
    }

    /** {@code precompute_coeffs} + {@code normalize_coeffs_8bpc}: per output pixel, its first input and its fixed-point taps. */
    private record Coefficients(int[] bounds, int[][] taps) {
        static Coefficients of(int inSize, float in0, float in1, int outSize) {
            double scale = (double) (in1 - in0) / outSize;
            double filterScale = Math.max(1.0, scale);
            double support = LANCZOS_SUPPORT * filterScale;
            double ss = 1.0 / filterScale;
            int[] bounds = new int[2 * outSize];
            int[][] taps = new int[outSize][];
            for (int xx = 0; xx < outSize; xx++) {
                double center = in0 + (xx + 0.5) * scale;
                int xmin = Math.max(0, (int) (center - support + 0.5));
                int xmax = Math.min(inSize, (int) (center + support + 0.5)) - xmin;
                double[] k = new double[Math.max(0, xmax)];
                double ww = 0;
                for (int x = 0; x < k.length; x++) {
                    k[x] = lanczos((x + xmin - center + 0.5) * ss);
                    ww += k[x];
                }
                int[] fixed = new int[k.length];
                for (int x = 0; x < k.length; x++) {
                    double v = ww != 0.0 ? k[x] / ww : k[x];
                    fixed[x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS)) : (int) (0.5 + v * (1 << PRECISION_BITS));
                }
                bounds[2 * xx] = xmin;
                bounds[2 * xx + 1] = k.length;
                taps[xx] = fixed;
            }
            return new Coefficients(bounds, taps);
        }

        /** Output pixel {@code o} from the input line at {@code base} with element stride {@code stride}: rounded, clipped. */
        int apply(int[] in, int base, int stride, int o) {
            int xmin = bounds[2 * o];
            int[] k = taps[o];
            int acc = 1 << (PRECISION_BITS - 1);
            for (int x = 0; x < k.length; x++) acc += in[base + (x + xmin) * stride] * k[x];
            return Math.max(0, Math.min(255, acc >> PRECISION_BITS));
        }
    }

    /** PIL's {@code lanczos_filter}: sinc(x)·sinc(x/3) on [−3, 3). */
    private static double lanczos(double x) {
        return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
    }

    private static double sinc(double x) {
        if (x == 0.0) return 1.0;
        x = x * Math.PI;
        return Math.sin(x) / x;
    }
}
