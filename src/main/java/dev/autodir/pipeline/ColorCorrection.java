package dev.autodir.pipeline;

import dev.autodir.tensor.FloatTensor;

import java.util.Locale;

/**
 * The colour fixes of the official {@code wavelet_color_fix.py}, on host tensors [B, C, H, W]:
 * adaptive instance normalisation (per-channel mean and unbiased variance + 1e-5) and the wavelet
 * reconstruction (content's high frequencies + style's low frequencies, 5 levels of a dilated 3×3 blur).
 */
public final class ColorCorrection {
    private ColorCorrection() { }

    public enum Mode {
        NONE, ADAIN, WAVELET;

        public static Mode parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "none", "off" -> NONE;
                case "adain" -> ADAIN;
                case "wavelet" -> WAVELET;
                default -> throw new IllegalArgumentException("unknown colour correction \"" + s + "\" (choose adain, wavelet or none)");
            };
        }
    }

    public static FloatTensor apply(Mode mode, FloatTensor content, FloatTensor style) {
        return switch (mode) {
            case NONE -> content;
            case ADAIN -> adaptiveInstanceNormalization(content, style);
            case WAVELET -> waveletReconstruction(content, style);
        };
    }

    /** {@code adaptive_instance_normalization(content, style)}: content re-coloured to style's channel statistics. */
    public static FloatTensor adaptiveInstanceNormalization(FloatTensor content, FloatTensor style) {
        int b = content.dim(0), c = content.dim(1);
        if (style.rank() != 4 || style.dim(0) != b || style.dim(1) != c) {
            throw new IllegalArgumentException("AdaIN needs content and style with the same batch and channels: "
                    + content + " vs " + style);
        }
        float[][] sStat = meanStd(style), cStat = meanStd(content);
        int plane = content.dim(2) * content.dim(3);
        float[] in = content.data(), out = new float[in.length];
        for (int bc = 0; bc < b * c; bc++) {
            float cm = cStat[0][bc], cs = cStat[1][bc], sm = sStat[0][bc], ss = sStat[1][bc];
            for (int i = bc * plane, e = i + plane; i < e; i++) {
                float normalized = (in[i] - cm) / cs;
                out[i] = normalized * ss + sm;
            }
        }
        return new FloatTensor(out, content.shape());
    }

    /** Per (batch, channel): mean and sqrt(unbiased variance + 1e-5), as float32. */
    private static float[][] meanStd(FloatTensor x) {
        int bc = x.dim(0) * x.dim(1), plane = x.dim(2) * x.dim(3);
        if (plane < 2) throw new IllegalArgumentException("colour statistics need at least 2 pixels, got " + x);
        float[] mean = new float[bc], std = new float[bc], d = x.data();
        for (int k = 0; k < bc; k++) {
            double s = 0;
            for (int i = k * plane, e = i + plane; i < e; i++) s += d[i];
            double m = s / plane, ss = 0;
            for (int i = k * plane, e = i + plane; i < e; i++) ss += (d[i] - m) * (d[i] - m);
            float var = (float) (ss / (plane - 1)) + 1e-5f;
            mean[k] = (float) m;
            std[k] = (float) Math.sqrt(var);
        }
        return new float[][] {mean, std};
    }

    /** {@code wavelet_reconstruction(content, style)}. */
    public static FloatTensor waveletReconstruction(FloatTensor content, FloatTensor style) {
        if (!java.util.Arrays.equals(content.shape(), style.shape())) {
            throw new IllegalArgumentException("wavelet colour fix needs equal shapes: " + content + " vs " + style);
        }
        FloatTensor[] c = waveletDecomposition(content, 5);
        FloatTensor[] s = waveletDecomposition(style, 5);
        float[] hi = c[0].data(), lo = s[1].data(), out = new float[hi.length];
        for (int i = 0; i < out.length; i++) out[i] = hi[i] + lo[i];
        return new FloatTensor(out, content.shape());
    }

    /** Returns {high, low}: high accumulates image − blur at radii 1, 2, 4, ...; low is the last blur. */
    static FloatTensor[] waveletDecomposition(FloatTensor image, int levels) {
        float[] high = new float[image.numel()];
        FloatTensor cur = image, low = image;
        for (int i = 0; i < levels; i++) {
            low = waveletBlur(cur, 1 << i);
            float[] a = cur.data(), l = low.data();
            for (int k = 0; k < high.length; k++) high[k] += a[k] - l[k];
            cur = low;
        }
        return new FloatTensor[] {new FloatTensor(high, image.shape()), low};
    }

    /** Replicate padding by {@code radius}, then the 3×3 kernel [1 2 1]ᵀ[1 2 1]/16 with dilation {@code radius}. */
    static FloatTensor waveletBlur(FloatTensor x, int radius) {
        int planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
        float[] k = {0.0625f, 0.125f, 0.0625f, 0.125f, 0.25f, 0.125f, 0.0625f, 0.125f, 0.0625f};
        float[] in = x.data(), out = new float[in.length];
        for (int p = 0; p < planes; p++) {
            int base = p * h * w;
            for (int y = 0; y < h; y++) {
                for (int xx = 0; xx < w; xx++) {
                    float acc = 0;
                    for (int ky = 0; ky < 3; ky++) {
                        int sy = clamp(y + (ky - 1) * radius, h);
                        for (int kx = 0; kx < 3; kx++) {
                            int sx = clamp(xx + (kx - 1) * radius, w);
                            acc += k[ky * 3 + kx] * in[base + sy * w + sx];
                        }
                    }
                    out[base + y * w + xx] = acc;
                }
            }
        }
        return new FloatTensor(out, x.shape());
    }

    private static int clamp(int i, int n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }
}
