package dev.autodir.backend;

import java.util.Arrays;
import java.util.List;

/**
 * The shape rules of every {@link Ops} operation, written once: each method checks its operands and returns the
 * result's shape, or throws {@link IllegalArgumentException} naming the operation, what is wrong and the shapes.
 * The recording backend infers a graph's shapes with it; the executing backends call it before they compute.
 */
public final class Shapes {
    private Shapes() { }

    public static IllegalArgumentException bad(String op, String problem, int[]... shapes) {
        StringBuilder s = new StringBuilder(op).append(": ").append(problem);
        if (shapes.length > 0) {
            s.append(" (shapes");
            for (int[] sh : shapes) s.append(' ').append(sh == null ? "null" : Arrays.toString(sh));
            s.append(')');
        }
        return new IllegalArgumentException(s.toString());
    }

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public static int[] reshape(int[] x, int[] shape) {
        if (shape == null || numel(shape) != numel(x)) {
            throw bad("reshape", "cannot view " + numel(x) + " elements as " + Arrays.toString(shape), x);
        }
        return shape.clone();
    }

    public static int[] conv2d(int[] x, int[] w, int[] bias, int stride, int padding, int groups) {
        String op = "conv2d";
        if (x.length != 4 || w.length != 4) throw bad(op, "x must be [B, Cin, H, W] and weight [Cout, Cin/groups, kh, kw]", x, w);
        if (stride < 1 || padding < 0 || groups < 1) {
            throw bad(op, "stride " + stride + ", padding " + padding + ", groups " + groups
                    + " (stride and groups must be positive, padding non-negative)");
        }
        int cin = x[1], cout = w[0], kh = w[2], kw = w[3];
        if (cin % groups != 0 || cout % groups != 0 || w[1] != cin / groups) throw bad(op, "channels do not match groups=" + groups, x, w);
        if (bias != null && (bias.length != 1 || bias[0] != cout)) throw bad(op, "bias must be [Cout]", w, bias);
        if (kh < 1 || kw < 1 || x[2] + 2 * padding < kh || x[3] + 2 * padding < kw) {
            throw bad(op, "kernel larger than the padded input (padding " + padding + ")", x, w);
        }
        return new int[] {x[0], cout, (x[2] + 2 * padding - kh) / stride + 1, (x[3] + 2 * padding - kw) / stride + 1};
    }

    /** conv2d's rule, and an input bias of Cin elements (null: none). */
    public static int[] conv2dWithInputBias(int[] x, int[] inputBias, int[] w, int[] bias, int stride, int padding, int groups) {
        int[] y = conv2d(x, w, bias, stride, padding, groups);
        if (inputBias != null && numel(inputBias) != x[1]) throw bad("conv2dWithInputBias", "the input bias needs Cin = " + x[1] + " elements", x, inputBias);
        return y;
    }

    public static int[] linear(int[] x, int[] w, int[] bias) {
        String op = "linear";
        if (x.length < 1 || w.length != 2 || x[x.length - 1] != w[1]) throw bad(op, "x [..., in] and weight [out, in]", x, w);
        if (bias != null && (numel(bias) != w[0])) throw bad(op, "bias must have out = " + w[0] + " elements", w, bias);
        int[] y = x.clone();
        y[y.length - 1] = w[0];
        return y;
    }

    public static int[] groupNorm(int[] x, int groups, int[] gamma, int[] beta) {
        String op = "groupNorm";
        if (x.length < 2 || groups < 1 || x[1] % groups != 0) throw bad(op, "x [B, C, ...] with C divisible by " + groups + " groups", x);
        perChannel(op, x[1], gamma, beta);
        return x.clone();
    }

    public static int[] layerNorm(int[] x, int[] gamma, int[] beta) {
        if (x.length < 1) throw bad("layerNorm", "x needs a last dimension", x);
        perChannel("layerNorm", x[x.length - 1], gamma, beta);
        return x.clone();
    }

    public static int[] layerNormChannels(int[] x, int[] gamma, int[] beta) {
        if (x.length != 4) throw bad("layerNormChannels", "x must be [B, C, H, W]", x);
        perChannel("layerNormChannels", x[1], gamma, beta);
        return x.clone();
    }

    private static void perChannel(String op, int c, int[]... vs) {
        for (int[] v : vs) if (v != null && numel(v) != c) throw bad(op, "affine parameters need " + c + " elements", v);
    }

    public static int[] attention(int[] q, int[] k, int[] v, int heads, int[] keyKeep) {
        String op = "attention";
        if (q.length != 3 || k.length != 3 || !Arrays.equals(k, v) || q[0] != k[0] || q[2] != k[2]) {
            throw bad(op, "q [B, Nq, C], k and v [B, Nk, C]", q, k, v);
        }
        if (heads < 1 || q[2] % heads != 0) throw bad(op, q[2] + " channels cannot form " + heads + " heads", q);
        if (keyKeep != null && (keyKeep.length != 2 || keyKeep[0] != q[0] || keyKeep[1] != k[1])) {
            throw bad(op, "the mask must be [B, Nk] = [" + q[0] + ", " + k[1] + "]", keyKeep);
        }
        return q.clone();
    }

    public static int[] same(String op, int[] a, int[]... others) {
        for (int[] o : others) if (!Arrays.equals(a, o)) throw bad(op, "shapes differ", a, o);
        return a.clone();
    }

    public static int[] lastHalf(String op, int[] x) {
        if (x.length < 1 || x[x.length - 1] % 2 != 0) throw bad(op, "the last dimension must be even", x);
        int[] y = x.clone();
        y[y.length - 1] /= 2;
        return y;
    }

    public static int[] simpleGate(int[] x, int[] bias) {
        if (x.length != 4 || x[1] % 2 != 0) throw bad("simpleGate", "x must be [B, 2C, H, W]", x);
        if (bias != null && numel(bias) != x[1]) throw bad("simpleGate", "bias needs " + x[1] + " elements", x, bias);
        return new int[] {x[0], x[1] / 2, x[2], x[3]};
    }

    /** b equals a's shape or a suffix of it. */
    public static int[] add(int[] a, int[] b) {
        if (b.length > a.length || !Arrays.equals(Arrays.copyOfRange(a, a.length - b.length, a.length), b)) {
            throw bad("add", "b must have a's shape or a suffix of it", a, b);
        }
        return a.clone();
    }

    public static int[] clamp(int[] x, float lo, float hi) {
        if (!(lo <= hi)) throw bad("clamp", "lo " + lo + " must not exceed hi " + hi, x);
        return x.clone();
    }

    public static int[] scalar(String op, int[] x, int[] s) {
        if (numel(s) != 1) throw bad(op, "the scalar must have one element", x, s);
        return x.clone();
    }

    /** v has B·C or C elements for x [B, C, H, W]. */
    public static int[] perChannelOperand(String op, int[] x, int[] v) {
        if (x.length != 4) throw bad(op, "x must be [B, C, H, W]", x);
        long n = numel(v);
        if (n != x[1] && n != (long) x[0] * x[1]) throw bad(op, "v needs C = " + x[1] + " or B·C = " + (long) x[0] * x[1] + " elements", x, v);
        return x.clone();
    }

    public static int[] addScaledPerChannel(int[] a, int[] x, int[] bias, int[] scale) {
        String op = "addScaledPerChannel";
        same(op, a, x);
        if (x.length != 4) throw bad(op, "a and x must be [B, C, H, W]", x);
        perChannel(op, x[1], bias, scale);
        return a.clone();
    }

    public static int[] upsampleNearest2x(int[] x) {
        if (x.length != 4) throw bad("upsampleNearest2x", "x must be [B, C, H, W]", x);
        return new int[] {x[0], x[1], Math.multiplyExact(x[2], 2), Math.multiplyExact(x[3], 2)};
    }

    public static int[] pixelShuffle(int[] x, int r) {
        if (x.length != 4 || r < 1 || x[1] % (r * r) != 0) throw bad("pixelShuffle", "x [B, C·r², H, W] with r = " + r, x);
        return new int[] {x[0], x[1] / (r * r), x[2] * r, x[3] * r};
    }

    public static int[] globalAvgPool(int[] x) {
        if (x.length != 4) throw bad("globalAvgPool", "x must be [B, C, H, W]", x);
        if ((long) x[2] * x[3] == 0) throw bad("globalAvgPool", "empty planes have no mean", x);
        return new int[] {x[0], x[1], 1, 1};
    }

    public static int[] pad2d(int[] x, int top, int bottom, int left, int right) {
        if (x.length != 4 || top < 0 || bottom < 0 || left < 0 || right < 0) {
            throw bad("pad2d", "x [B, C, H, W] and non-negative padding (" + top + ", " + bottom + ", " + left + ", " + right + ")", x);
        }
        return new int[] {x[0], x[1], Math.addExact(x[2], top + bottom), Math.addExact(x[3], left + right)};
    }

    public static int[] crop2d(int[] x, int top, int left, int h, int w) {
        if (x.length != 4 || top < 0 || left < 0 || h < 0 || w < 0 || (long) top + h > x[2] || (long) left + w > x[3]) {
            throw bad("crop2d", "window (" + top + ", " + left + ") " + h + "×" + w + " is not inside x", x);
        }
        return new int[] {x[0], x[1], h, w};
    }

    public static int[] concat(List<int[]> parts, int dim) {
        if (parts.isEmpty()) throw bad("concat", "no tensors");
        int[] first = parts.get(0);
        if (dim < 0 || dim >= first.length) throw bad("concat", "dimension " + dim + " is out of range for rank " + first.length, first);
        int[] y = first.clone();
        y[dim] = 0;
        for (int[] p : parts) {
            if (p.length != first.length) throw bad("concat", "ranks differ", first, p);
            for (int i = 0; i < p.length; i++) if (i != dim && p[i] != first[i]) throw bad("concat", "dimension " + i + " differs", first, p);
            y[dim] = Math.addExact(y[dim], p[dim]);
        }
        return y;
    }

    public static int[] slice(int[] x, int dim, int from, int to) {
        if (dim < 0 || dim >= x.length || from < 0 || to < from || to > x[dim]) {
            throw bad("slice", "[" + from + ", " + to + ") along dimension " + dim + " is out of range", x);
        }
        int[] y = x.clone();
        y[dim] = to - from;
        return y;
    }

    public static int[] nchwToTokens(int[] x) {
        if (x.length != 4) throw bad("nchwToTokens", "x must be [B, C, H, W]", x);
        return new int[] {x[0], Math.multiplyExact(x[2], x[3]), x[1]};
    }

    public static int[] tokensToNchw(int[] x, int h, int w) {
        if (x.length != 3 || h < 0 || w < 0 || (long) h * w != x[1]) throw bad("tokensToNchw", "x must be [B, " + h + "·" + w + ", C]", x);
        return new int[] {x[0], x[2], h, w};
    }

    public static int[] embedding(int[] table, int[] ids) {
        if (table.length != 2 || ids.length != 2) throw bad("embedding", "table [V, C] and ids [B, N]", table, ids);
        return new int[] {ids[0], ids[1], table[1]};
    }

    public static int[] gatherRows(int[] x, int[] rows) {
        if (x.length != 3 || rows.length != 1 || rows[0] != x[0]) throw bad("gatherRows", "x [B, N, C] and rows [B]", x, rows);
        return new int[] {x[0], x[2]};
    }

    public static int[] argmax(int[] x) {
        if (x.length != 2 || x[1] < 1) throw bad("argmax", "x must be [B, N] with N ≥ 1", x);
        return new int[] {x[0]};
    }

    public static int[] lastDim(String op, int[] x) {
        if (x.length < 1) throw bad(op, "x needs a last dimension", x);
        return x.clone();
    }

    public static int[] matmul(int[] a, int[] b) {
        if (a.length != 2 || b.length != 2 || a[1] != b[0]) throw bad("matmul", "a [M, K] and b [K, N]", a, b);
        return new int[] {a[0], b[1]};
    }

    public static int[] clipPixelValues(int[] image, int size, float[] mean, float[] std) {
        if (image.length != 4 || image[0] != 1 || image[1] != 3 || size < 1) {
            throw bad("clipPixelValues", "image must be [1, 3, H, W] and size positive (size " + size + ")", image);
        }
        if (mean == null || std == null || mean.length != 3 || std.length != 3) throw bad("clipPixelValues", "mean and std need 3 values each");
        return new int[] {1, 3, size, size};
    }

    public static int[] timestepEmbedding(int[] t, int dim) {
        if (t.length != 1 || dim < 2) throw bad("timestepEmbedding", "t [B] and dim ≥ 2 (" + dim + ")", t);
        return new int[] {t[0], dim};
    }
}
