package dev.autodir.backend;

import dev.autodir.tensor.FloatTensor;

import java.util.List;

/**
 * The obviously-correct reference for {@link OpsConformanceTest}: every operation of {@link Ops} as
 * the textbook loop over output elements, accumulated in double and rounded to float once at the end.
 * Nothing here is shared with any backend, and nothing here is fast.
 */
public final class ReferenceOps {
    private ReferenceOps() { }

    // ---- special functions in double --------------------------------------------------------------

    /**
     * erf in double: the Maclaurin series for |x| ≤ 2.5 (terms decay after n ≈ x², the alternating sum
     * loses at most ~3 digits to cancellation there) and the classic continued fraction of erfc for
     * |x| &gt; 2.5, evaluated from the tail.
     */
    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double a = Math.abs(x);
        double r;
        if (a <= 2.5) {
            double term = a, sum = a, x2 = a * a;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;                       // (-1)^n x^(2n+1) / n!
                double t = term / (2 * n + 1);
                sum += t;
                if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            r = 1 - erfcContinuedFraction(a);
        }
        return x < 0 ? -r : r;
    }

    /** erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))) for x &gt; 0. */
    static double erfcContinuedFraction(double x) {
        double f = x;
        for (int k = 120; k >= 1; k--) f = x + (k / 2.0) / f;
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
    }

    static double sigmoid(double z) { return 1 / (1 + Math.exp(-z)); }

    static double gelu(double x) { return 0.5 * x * (1 + erf(x / Math.sqrt(2))); }

    // ---- dense layers --------------------------------------------------------------------------

    public static FloatTensor conv2d(FloatTensor x, FloatTensor w, FloatTensor b, int stride, int pad, int groups) {
        int bn = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int cout = w.dim(0), cg = w.dim(1), kh = w.dim(2), kw = w.dim(3);
        int ho = (h + 2 * pad - kh) / stride + 1, wo = (wd + 2 * pad - kw) / stride + 1;
        int coutPerGroup = cout / groups;
        FloatTensor out = FloatTensor.zeros(bn, cout, ho, wo);
        for (int n = 0; n < bn; n++) {
            for (int co = 0; co < cout; co++) {
                int g = co / coutPerGroup;
                for (int oy = 0; oy < ho; oy++) {
                    for (int ox = 0; ox < wo; ox++) {
                        double s = b == null ? 0 : b.data()[co];
                        for (int ci = 0; ci < cg; ci++) {
                            for (int ky = 0; ky < kh; ky++) {
                                for (int kx = 0; kx < kw; kx++) {
                                    int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    s += (double) at(x, n, g * cg + ci, iy, ix) * at(w, co, ci, ky, kx);
                                }
                            }
                        }
                        set(out, (float) s, n, co, oy, ox);
                    }
                }
            }
        }
        return out;
    }

    public static FloatTensor linear(FloatTensor x, FloatTensor w, FloatTensor b) {
        int in = w.dim(1), outF = w.dim(0), rows = x.numel() / in;
        int[] shape = x.shape();
        shape[shape.length - 1] = outF;
        FloatTensor out = FloatTensor.zeros(shape);
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < outF; o++) {
                double s = b == null ? 0 : b.data()[o];
                for (int i = 0; i < in; i++) s += (double) x.data()[r * in + i] * w.data()[o * in + i];
                out.data()[r * outF + o] = (float) s;
            }
        }
        return out;
    }

    // ---- normalisation ------------------------------------------------------------------------

    public static FloatTensor groupNorm(FloatTensor x, int groups, FloatTensor gamma, FloatTensor beta, double eps, boolean silu) {
        int bn = x.dim(0), c = x.dim(1), spatial = x.numel() / (bn * c), cg = c / groups;
        FloatTensor out = FloatTensor.zeros(x.shape());
        for (int n = 0; n < bn; n++) {
            for (int g = 0; g < groups; g++) {
                double sum = 0;
                int count = cg * spatial;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    for (int s = 0; s < spatial; s++) sum += x.data()[(n * c + ch) * spatial + s];
                }
                double mean = sum / count, var = 0;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    for (int s = 0; s < spatial; s++) {
                        double d = x.data()[(n * c + ch) * spatial + s] - mean;
                        var += d * d;
                    }
                }
                var /= count;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    for (int s = 0; s < spatial; s++) {
                        int i = (n * c + ch) * spatial + s;
                        double y = (x.data()[i] - mean) / Math.sqrt(var + eps) * gamma.data()[ch] + beta.data()[ch];
                        if (silu) y = y * sigmoid(y);
                        out.data()[i] = (float) y;
                    }
                }
            }
        }
        return out;
    }

    public static FloatTensor layerNorm(FloatTensor x, FloatTensor gamma, FloatTensor beta, double eps) {
        int width = x.dim(-1), rows = x.numel() / width;
        FloatTensor out = FloatTensor.zeros(x.shape());
        for (int r = 0; r < rows; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < width; i++) mean += x.data()[r * width + i];
            mean /= width;
            for (int i = 0; i < width; i++) {
                double d = x.data()[r * width + i] - mean;
                var += d * d;
            }
            var /= width;
            for (int i = 0; i < width; i++) {
                out.data()[r * width + i] = (float) ((x.data()[r * width + i] - mean) / Math.sqrt(var + eps)
                        * gamma.data()[i] + beta.data()[i]);
            }
        }
        return out;
    }

    public static FloatTensor layerNormChannels(FloatTensor x, FloatTensor gamma, FloatTensor beta, double eps) {
        int bn = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        FloatTensor out = FloatTensor.zeros(x.shape());
        for (int n = 0; n < bn; n++) {
            for (int y = 0; y < h; y++) {
                for (int xx = 0; xx < w; xx++) {
                    double mean = 0, var = 0;
                    for (int ch = 0; ch < c; ch++) mean += at(x, n, ch, y, xx);
                    mean /= c;
                    for (int ch = 0; ch < c; ch++) {
                        double d = at(x, n, ch, y, xx) - mean;
                        var += d * d;
                    }
                    var /= c;
                    for (int ch = 0; ch < c; ch++) {
                        double v = (at(x, n, ch, y, xx) - mean) / Math.sqrt(var + eps) * gamma.data()[ch] + beta.data()[ch];
                        set(out, (float) v, n, ch, y, xx);
                    }
                }
            }
        }
        return out;
    }

    // ---- attention ----------------------------------------------------------------------------

    public static FloatTensor attention(FloatTensor q, FloatTensor k, FloatTensor v, int heads, double scale, AttentionMask mask) {
        int bn = q.dim(0), nq = q.dim(1), nk = k.dim(1), c = q.dim(2), d = c / heads;
        FloatTensor out = FloatTensor.zeros(bn, nq, c);
        for (int b = 0; b < bn; b++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < nq; i++) {
                    double[] s = new double[nk];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < nk; j++) {
                        if (!mask.visible(b, i, j)) continue;
                        double dot = 0;
                        for (int e = 0; e < d; e++) {
                            dot += (double) q.data()[(b * nq + i) * c + h * d + e] * k.data()[(b * nk + j) * c + h * d + e];
                        }
                        s[j] = dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < nk; j++) {
                        s[j] = mask.visible(b, i, j) ? Math.exp(s[j] - max) : 0;
                        sum += s[j];
                    }
                    for (int e = 0; e < d; e++) {
                        double o = 0;
                        for (int j = 0; j < nk; j++) {
                            if (s[j] != 0) o += s[j] / sum * v.data()[(b * nk + j) * c + h * d + e];
                        }
                        out.data()[(b * nq + i) * c + h * d + e] = (float) o;
                    }
                }
            }
        }
        return out;
    }

    // ---- activations and elementwise ----------------------------------------------------------

    public static FloatTensor silu(FloatTensor x) { return map(x, v -> v * sigmoid(v)); }

    public static FloatTensor quickGelu(FloatTensor x) { return map(x, v -> v * sigmoid(1.702 * v)); }

    public static FloatTensor gelu(FloatTensor x) { return map(x, ReferenceOps::gelu); }

    public static FloatTensor geglu(FloatTensor x) {
        int width = x.dim(-1), half = width / 2, rows = x.numel() / width;
        int[] shape = x.shape();
        shape[shape.length - 1] = half;
        FloatTensor out = FloatTensor.zeros(shape);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < half; i++) {
                out.data()[r * half + i] = (float) (x.data()[r * width + i] * gelu(x.data()[r * width + half + i]));
            }
        }
        return out;
    }

    public static FloatTensor simpleGate(FloatTensor x) {
        int bn = x.dim(0), c = x.dim(1) / 2, h = x.dim(2), w = x.dim(3);
        FloatTensor out = FloatTensor.zeros(bn, c, h, w);
        for (int n = 0; n < bn; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++)
                        set(out, (float) ((double) at(x, n, ch, y, xx) * at(x, n, c + ch, y, xx)), n, ch, y, xx);
        return out;
    }

    public static FloatTensor add(FloatTensor a, FloatTensor b) {
        FloatTensor out = FloatTensor.zeros(a.shape());
        for (int i = 0; i < a.numel(); i++) out.data()[i] = (float) ((double) a.data()[i] + b.data()[i % b.numel()]);
        return out;
    }

    public static FloatTensor mul(FloatTensor a, FloatTensor b) {
        FloatTensor out = FloatTensor.zeros(a.shape());
        for (int i = 0; i < a.numel(); i++) out.data()[i] = (float) ((double) a.data()[i] * b.data()[i]);
        return out;
    }

    public static FloatTensor scale(FloatTensor x, double s) { return map(x, v -> v * s); }

    public static FloatTensor clamp(FloatTensor x, double lo, double hi) { return map(x, v -> Math.min(Math.max(v, lo), hi)); }

    public static FloatTensor perChannel(FloatTensor x, FloatTensor v, boolean add) {
        int bn = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        boolean perImage = v.numel() == bn * c;
        FloatTensor out = FloatTensor.zeros(x.shape());
        for (int n = 0; n < bn; n++)
            for (int ch = 0; ch < c; ch++) {
                double s = v.data()[perImage ? n * c + ch : ch];
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++) {
                        double val = at(x, n, ch, y, xx);
                        set(out, (float) (add ? val + s : val * s), n, ch, y, xx);
                    }
            }
        return out;
    }

    // ---- resampling and layout ----------------------------------------------------------------

    public static FloatTensor upsampleNearest2x(FloatTensor x) {
        int bn = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        FloatTensor out = FloatTensor.zeros(bn, c, 2 * h, 2 * w);
        for (int n = 0; n < bn; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < 2 * h; y++)
                    for (int xx = 0; xx < 2 * w; xx++) set(out, at(x, n, ch, y / 2, xx / 2), n, ch, y, xx);
        return out;
    }

    public static FloatTensor pixelShuffle(FloatTensor x, int r) {
        int bn = x.dim(0), c = x.dim(1) / (r * r), h = x.dim(2), w = x.dim(3);
        FloatTensor out = FloatTensor.zeros(bn, c, h * r, w * r);
        for (int n = 0; n < bn; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h * r; y++)
                    for (int xx = 0; xx < w * r; xx++)
                        set(out, at(x, n, ch * r * r + (y % r) * r + (xx % r), y / r, xx / r), n, ch, y, xx);
        return out;
    }

    public static FloatTensor globalAvgPool(FloatTensor x) {
        int bn = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        FloatTensor out = FloatTensor.zeros(bn, c, 1, 1);
        for (int n = 0; n < bn; n++)
            for (int ch = 0; ch < c; ch++) {
                double s = 0;
                for (int y = 0; y < h; y++) for (int xx = 0; xx < w; xx++) s += at(x, n, ch, y, xx);
                set(out, (float) (s / (h * w)), n, ch, 0, 0);
            }
        return out;
    }

    public static FloatTensor pad2d(FloatTensor x, int top, int bottom, int left, int right) {
        int bn = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        FloatTensor out = FloatTensor.zeros(bn, c, top + h + bottom, left + w + right);
        for (int n = 0; n < bn; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++) set(out, at(x, n, ch, y, xx), n, ch, y + top, xx + left);
        return out;
    }

    public static FloatTensor crop2d(FloatTensor x, int top, int left, int h, int w) {
        int bn = x.dim(0), c = x.dim(1);
        FloatTensor out = FloatTensor.zeros(bn, c, h, w);
        for (int n = 0; n < bn; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++) set(out, at(x, n, ch, top + y, left + xx), n, ch, y, xx);
        return out;
    }

    /** Concatenation by multi-index: each output element found by walking the parts along {@code dim}. */
    public static FloatTensor concat(List<FloatTensor> parts, int dim) {
        int[] shape = parts.get(0).shape();
        int total = 0;
        for (FloatTensor p : parts) total += p.dim(dim);
        shape[dim] = total;
        FloatTensor out = FloatTensor.zeros(shape);
        for (int i = 0; i < out.numel(); i++) {
            int[] idx = unravel(i, shape);
            int along = idx[dim];
            for (FloatTensor p : parts) {
                if (along < p.dim(dim)) {
                    idx[dim] = along;
                    out.data()[i] = p.data()[ravel(idx, p.shape())];
                    break;
                }
                along -= p.dim(dim);
            }
        }
        return out;
    }

    public static FloatTensor slice(FloatTensor x, int dim, int from, int to) {
        int[] shape = x.shape();
        shape[dim] = to - from;
        FloatTensor out = FloatTensor.zeros(shape);
        for (int i = 0; i < out.numel(); i++) {
            int[] idx = unravel(i, shape);
            idx[dim] += from;
            out.data()[i] = x.data()[ravel(idx, x.shape())];
        }
        return out;
    }

    public static FloatTensor nchwToTokens(FloatTensor x) {
        int bn = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        FloatTensor out = FloatTensor.zeros(bn, h * w, c);
        for (int n = 0; n < bn; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++) out.data()[(n * h * w + y * w + xx) * c + ch] = at(x, n, ch, y, xx);
        return out;
    }

    public static FloatTensor tokensToNchw(FloatTensor x, int h, int w) {
        int bn = x.dim(0), c = x.dim(2);
        FloatTensor out = FloatTensor.zeros(bn, c, h, w);
        for (int n = 0; n < bn; n++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++) set(out, x.data()[(n * h * w + y * w + xx) * c + ch], n, ch, y, xx);
        return out;
    }

    public static FloatTensor embedding(FloatTensor table, int[][] ids) {
        int c = table.dim(1);
        FloatTensor out = FloatTensor.zeros(ids.length, ids[0].length, c);
        for (int b = 0; b < ids.length; b++)
            for (int j = 0; j < ids[b].length; j++)
                for (int e = 0; e < c; e++) out.data()[(b * ids[0].length + j) * c + e] = table.data()[ids[b][j] * c + e];
        return out;
    }

    public static FloatTensor gatherRows(FloatTensor x, int[] rows) {
        int n = x.dim(1), c = x.dim(2);
        FloatTensor out = FloatTensor.zeros(rows.length, c);
        for (int b = 0; b < rows.length; b++)
            for (int e = 0; e < c; e++) out.data()[b * c + e] = x.data()[(b * n + rows[b]) * c + e];
        return out;
    }

    /** Softmax over the last dimension, in double. */
    public static FloatTensor softmax(FloatTensor x) {
        int n = x.dim(-1);
        FloatTensor out = FloatTensor.zeros(x.shape());
        for (int r = 0; r < x.numel() / n; r++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < n; j++) max = Math.max(max, x.data()[r * n + j]);
            for (int j = 0; j < n; j++) sum += Math.exp(x.data()[r * n + j] - max);
            for (int j = 0; j < n; j++) out.data()[r * n + j] = (float) (Math.exp(x.data()[r * n + j] - max) / sum);
        }
        return out;
    }

    public static FloatTensor normalizeRows(FloatTensor x) {
        int n = x.dim(-1);
        FloatTensor out = FloatTensor.zeros(x.shape());
        for (int r = 0; r < x.numel() / n; r++) {
            double ss = 0;
            for (int j = 0; j < n; j++) ss += (double) x.data()[r * n + j] * x.data()[r * n + j];
            double norm = Math.sqrt(ss);
            for (int j = 0; j < n; j++) out.data()[r * n + j] = (float) (x.data()[r * n + j] / norm);
        }
        return out;
    }

    public static FloatTensor matmul(FloatTensor a, FloatTensor b) {
        int m = a.dim(0), k = a.dim(1), n = b.dim(1);
        FloatTensor out = FloatTensor.zeros(m, n);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += (double) a.data()[i * k + p] * b.data()[p * n + j];
                out.data()[i * n + j] = (float) acc;
            }
        }
        return out;
    }

    public static FloatTensor exp(FloatTensor x) { return map(x, Math::exp); }

    public static FloatTensor mulScalar(FloatTensor x, double s) { return map(x, v -> v * s); }

    /** The CLIP processor's crop (zero padding in pixel space) and normalisation, in double. */
    public static FloatTensor clipPixelValues(FloatTensor image, int size, float[] mean, float[] std) {
        int h = image.dim(2), w = image.dim(3);
        int top = h >= size ? (h - size) / 2 : -((size - h) / 2), left = w >= size ? (w - size) / 2 : -((size - w) / 2);
        FloatTensor out = FloatTensor.zeros(1, 3, size, size);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++) {
                    int sy = y + top, sx = x + left;
                    double v = sy >= 0 && sy < h && sx >= 0 && sx < w ? (at(image, 0, c, sy, sx) + 1.0) * 255.0 / 2.0 : 0.0;
                    set(out, (float) ((v / 255.0 - mean[c]) / std[c]), 0, c, y, x);
                }
        return out;
    }

    // ---- indexing helpers -----------------------------------------------------------------------

    static float at(FloatTensor t, int a, int b, int c, int d) {
        return t.data()[((a * t.dim(1) + b) * t.dim(2) + c) * t.dim(3) + d];
    }

    static void set(FloatTensor t, float v, int a, int b, int c, int d) {
        t.data()[((a * t.dim(1) + b) * t.dim(2) + c) * t.dim(3) + d] = v;
    }

    static int[] unravel(int i, int[] shape) {
        int[] idx = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = i % shape[d];
            i /= shape[d];
        }
        return idx;
    }

    static int ravel(int[] idx, int[] shape) {
        int i = 0;
        for (int d = 0; d < shape.length; d++) i = i * shape[d] + idx[d];
        return i;
    }

    private static FloatTensor map(FloatTensor x, java.util.function.DoubleUnaryOperator f) {
        FloatTensor out = FloatTensor.zeros(x.shape());
        for (int i = 0; i < x.numel(); i++) out.data()[i] = (float) f.applyAsDouble(x.data()[i]);
        return out;
    }
}
