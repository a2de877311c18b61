package dev.autodir.backend.cuda;

import dev.autodir.backend.AttentionMask;
import dev.autodir.tensor.FloatTensor;

/**
 * Plain double-precision (or, where the contract fixes float32 operation order, float) references for the
 * kernel-specific cases of the cuda tests: head widths and sizes that reach every attention path, group norms
 * large enough to split, the sampler updates. The conformance suite's ReferenceOps covers the rest.
 */
final class Reference {
    private Reference() { }

    static FloatTensor attention(FloatTensor q, FloatTensor k, FloatTensor v, int heads, double scale, AttentionMask mask) {
        int b = q.dim(0), nq = q.dim(1), nk = k.dim(1), c = q.dim(2), d = c / heads;
        float[] out = new float[b * nq * c];
        double[] s = new double[nk];
        for (int bi = 0; bi < b; bi++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < nq; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < nk; j++) {
                        if (!mask.visible(bi, i, j)) {
                            s[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double dot = 0;
                        for (int e = 0; e < d; e++) {
                            dot += (double) q.data()[(bi * nq + i) * c + h * d + e] * k.data()[(bi * nk + j) * c + h * d + e];
                        }
                        s[j] = dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < nk; j++) {
                        s[j] = s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int e = 0; e < d; e++) {
                        double acc = 0;
                        for (int j = 0; j < nk; j++) if (s[j] != 0) acc += s[j] * v.data()[(bi * nk + j) * c + h * d + e];
                        out[(bi * nq + i) * c + h * d + e] = sum > 0 ? (float) (acc / sum) : 0f;
                    }
                }
            }
        }
        return new FloatTensor(out, b, nq, c);
    }

    static FloatTensor groupNorm(FloatTensor x, int groups, FloatTensor gamma, FloatTensor beta, double eps, boolean silu) {
        int b = x.dim(0), c = x.dim(1);
        int plane = x.numel() / (b * c), cg = c / groups, len = cg * plane;
        float[] out = new float[x.numel()];
        for (int bg = 0; bg < b * groups; bg++) {
            int base = bg * len;
            double mean = 0;
            for (int i = 0; i < len; i++) mean += x.data()[base + i];
            mean /= len;
            double var = 0;
            for (int i = 0; i < len; i++) {
                double dd = x.data()[base + i] - mean;
                var += dd * dd;
            }
            var /= len;
            double rstd = 1 / Math.sqrt(var + eps);
            int g = bg % groups;
            for (int i = 0; i < len; i++) {
                int ch = g * cg + i / plane;
                double y = (x.data()[base + i] - mean) * rstd * gamma.data()[ch] + beta.data()[ch];
                if (silu) y = y / (1 + Math.exp(-y));
                out[base + i] = (float) y;
            }
        }
        return new FloatTensor(out, x.shape());
    }

    static FloatTensor conv2d(FloatTensor x, FloatTensor w, FloatTensor bias, int stride, int pad, int groups) {
        int b = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int cout = w.dim(0), kh = w.dim(2), kw = w.dim(3), cinG = cin / groups, coutG = cout / groups;
        int ho = (h + 2 * pad - kh) / stride + 1, wo = (wd + 2 * pad - kw) / stride + 1;
        float[] out = new float[b * cout * ho * wo];
        for (int bi = 0; bi < b; bi++) {
            for (int co = 0; co < cout; co++) {
                int g = co / coutG;
                for (int oy = 0; oy < ho; oy++) {
                    for (int ox = 0; ox < wo; ox++) {
                        double acc = bias == null ? 0 : bias.data()[co];
                        for (int ci = 0; ci < cinG; ci++) {
                            for (int ky = 0; ky < kh; ky++) {
                                int iy = oy * stride - pad + ky;
                                if (iy < 0 || iy >= h) continue;
                                for (int kx = 0; kx < kw; kx++) {
                                    int ix = ox * stride - pad + kx;
                                    if (ix < 0 || ix >= wd) continue;
                                    acc += (double) x.data()[((bi * cin + g * cinG + ci) * h + iy) * wd + ix]
                                            * w.data()[((co * cinG + ci) * kh + ky) * kw + kx];
                                }
                            }
                        }
                        out[((bi * cout + co) * ho + oy) * wo + ox] = (float) acc;
                    }
                }
            }
        }
        return new FloatTensor(out, b, cout, ho, wo);
    }

    static FloatTensor linear(FloatTensor x, FloatTensor w, FloatTensor bias) {
        int in = w.dim(1), outF = w.dim(0), m = x.numel() / in;
        float[] out = new float[m * outF];
        for (int r = 0; r < m; r++) {
            for (int o = 0; o < outF; o++) {
                double acc = bias == null ? 0 : bias.data()[o];
                for (int i = 0; i < in; i++) acc += (double) x.data()[r * in + i] * w.data()[o * in + i];
                out[r * outF + o] = (float) acc;
            }
        }
        int[] shape = x.shape();
        shape[shape.length - 1] = outF;
        return new FloatTensor(out, shape);
    }

    /** ldm's embedding with every step a float32 operation (exp / cos / sin correctly rounded). */
    static FloatTensor timestepEmbedding(float[] t, int dim) {
        int half = dim / 2;
        float[] out = new float[t.length * dim];
        for (int b = 0; b < t.length; b++) {
            for (int i = 0; i < half; i++) {
                float e = -9.210340371976184f * (float) i;
                float freq = (float) Math.exp((double) (e / (float) half));
                float arg = t[b] * freq;
                out[b * dim + i] = (float) Math.cos(arg);
                out[b * dim + half + i] = (float) Math.sin(arg);
            }
        }
        return new FloatTensor(out, t.length, dim);
    }

    static FloatTensor cfgCombine(FloatTensor cond, FloatTensor img, FloatTensor un, float sText, float sImg) {
        float[] out = new float[cond.numel()];
        for (int i = 0; i < out.length; i++) {
            float u = un.data()[i], c = cond.data()[i], ic = img.data()[i];
            out[i] = (u + sText * (c - ic)) + sImg * (ic - u);
        }
        return new FloatTensor(out, cond.shape());
    }

    static FloatTensor eulerAncestral(FloatTensor z, FloatTensor den, FloatTensor noise, float sigma, float sigmaDown, float sigmaUp) {
        float dt = sigmaDown - sigma;
        float[] out = new float[z.numel()];
        for (int i = 0; i < out.length; i++) {
            float d = (z.data()[i] - den.data()[i]) / sigma;
            float r = z.data()[i] + d * dt;
            if (noise != null) r = r + noise.data()[i] * sigmaUp;
            out[i] = r;
        }
        return new FloatTensor(out, z.shape());
    }

    static FloatTensor clipPixelValues(FloatTensor x, int size, float[] mean, float[] std) {
        int b = x.dim(0), h = x.dim(2), w = x.dim(3);
        // Hugging Face's center_crop: (n - size) / 2 inside the image; a smaller side zero-padded with the image at (size - n) / 2
        int top = h >= size ? (h - size) / 2 : -((size - h) / 2), left = w >= size ? (w - size) / 2 : -((size - w) / 2);
        float[] out = new float[b * 3 * size * size];
        for (int bi = 0; bi < b; bi++) {
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < size; y++) {
                    for (int xx = 0; xx < size; xx++) {
                        int sy = y + top, sx = xx + left;
                        float v = 0f;
                        if (sy >= 0 && sy < h && sx >= 0 && sx < w) v = (x.data()[((bi * 3 + c) * h + sy) * w + sx] + 1f) * 255f / 2f;
                        out[((bi * 3 + c) * size + y) * size + xx] = (v * 0.003921569f - mean[c]) / std[c];
                    }
                }
            }
        }
        return new FloatTensor(out, b, 3, size, size);
    }
}
