package dev.autodir.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Elementwise kernels on float arrays with the Vector API (the lane count is the platform's preferred
 * one, never hard-coded). Each kernel has a scalar twin for the tail that computes the same formula.
 *
 * <p>Formulas follow PyTorch's float32 CPU kernels: SiLU = x / (1 + exp(−x)), quick-GELU = x ·
 * sigmoid(1.702 x), exact GELU = x/2 · erfc(−x/√2). The complementary error function uses the
 * Chebyshev-fitted form erfc(z) = t · exp(−z² + P(t)), t = 1 / (1 + z/2) (Numerical Recipes, §6.2),
 * whose relative error is below 1.2e-7 for all z ≥ 0; writing GELU through erfc (not 1 + erf) keeps
 * that relative accuracy for negative inputs too.
 *
 * <p>Bitwise reproducible from run to run: every kernel is built from operations IEEE 754 rounds exactly
 * (add, mul, fma, div, min, max, conversions), which give the same bits whether the JIT has compiled the
 * Vector API code or it still runs interpreted. The Vector API's own {@code lanewise(EXP)} does not: the
 * compiled code calls a vector math library (SVML on x86) and the interpreted fallback {@code Math.exp},
 * which round some results differently, so the output depended on how far the JIT had got (two runs of one
 * restore differed by up to 2.1e-5; 4 of 16 test images by one uint8 level somewhere).
 * {@link #exp(FloatVector)} and {@link #exp(float)} compute one function, lane and tail alike. For the same reason sums over lanes use {@link #addLanes} (a fixed order),
 * not {@code reduceLanes(ADD)}, whose order the API leaves unspecified.
 */
final class VectorMath {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int LANES = F.length();

    private static final float INV_SQRT2 = (float) (1 / Math.sqrt(2));
    // erfc(z) ≈ t·exp(−z² + C0 + t(C1 + t(C2 + ...))), t = 1/(1 + z/2), z ≥ 0
    private static final float C0 = -1.26551223f, C1 = 1.00002368f, C2 = 0.37409196f, C3 = 0.09678418f,
            C4 = -0.18628806f, C5 = 0.27886807f, C6 = -1.13520398f, C7 = 1.48851587f, C8 = -0.82215223f,
            C9 = 0.17087277f;

    private VectorMath() { }

    // ---- exp: Cody-Waite range reduction and Cephes' expf polynomial (max error ~1 ulp) ----------------

    private static final float LOG2E = 1.44269504088896341f;
    /** 1.5 · 2^23: adding it rounds |v| < 2^22 to an integer, which then sits in the low mantissa bits. */
    private static final float ROUND = 0x1.8p23f;
    private static final int ROUND_BITS = 0x4b400000;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float E0 = 1.9875691500e-4f, E1 = 1.3981999507e-3f, E2 = 8.3334519073e-3f,
            E3 = 4.1665795894e-2f, E4 = 1.6666665459e-1f, E5 = 5.0000001201e-1f;
    /**
     * Inputs are clamped to [-104, 89]: exp(89) · (1 ± 1 ulp) overflows to +inf and exp(-104) rounds to 0 by the
     * final scaling itself, so no special case (and no blend, which costs as much as the rest) is needed; NaN
     * stays NaN through min and max.
     */
    private static final float EXP_HI = 89f, EXP_LO = -104f;

    /** e^x in float32 (NaN → NaN, +inf → +inf, −inf → 0), the same bits as every lane of {@link #exp(FloatVector)}. */
    static float exp(float x) {
        float c = Math.min(Math.max(x, EXP_LO), EXP_HI);
        float t = Math.fma(c, LOG2E, ROUND);
        float n = t - ROUND;
        float r = Math.fma(n, -LN2_LO, Math.fma(n, -LN2_HI, c));
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(E0, r, E1), r, E2), r, E3), r, E4), r, E5);
        float y = Math.fma(p, r * r, r) + 1f;
        int k = Float.floatToRawIntBits(t) - ROUND_BITS, k1 = k >> 1, k2 = k - k1; // 2^k in two factors: k in [-150, 128]
        return y * Float.intBitsToFloat((k1 + 127) << 23) * Float.intBitsToFloat((k2 + 127) << 23);
    }

    static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = c.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, ROUND));
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_LO), n.fma(FloatVector.broadcast(F, -LN2_HI), c));
        FloatVector p = FloatVector.broadcast(F, E0).fma(r, FloatVector.broadcast(F, E1));
        p = p.fma(r, FloatVector.broadcast(F, E2)); p = p.fma(r, FloatVector.broadcast(F, E3));
        p = p.fma(r, FloatVector.broadcast(F, E4)); p = p.fma(r, FloatVector.broadcast(F, E5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        // the integer n from t's bits, not convert(F2I), which JDK 17 does not compile to one instruction (10x slower)
        IntVector k = t.reinterpretAsInts().sub(ROUND_BITS);
        IntVector k1 = k.lanewise(VectorOperators.ASHR, 1), k2 = k.sub(k1);
        FloatVector s1 = k1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = k2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(s1).mul(s2);
    }

    /** The sum of a vector's lanes in lane order, in double: the same bits compiled or interpreted. */
    static double addLanes(FloatVector v) {
        float[] lanes = v.toArray();
        double s = 0;
        for (float l : lanes) s += l;
        return s;
    }

    // ---- scalar forms ----------------------------------------------------------------------------

    static float silu(float x) { return x / (1f + exp(-x)); }

    static float quickGelu(float x) { return x / (1f + exp(-1.702f * x)); }

    /** The fitted polynomial P(t) of the erfc form. */
    private static float erfcPolynomial(float t) {
        float p = C9;
        p = Math.fma(p, t, C8); p = Math.fma(p, t, C7); p = Math.fma(p, t, C6); p = Math.fma(p, t, C5);
        p = Math.fma(p, t, C4); p = Math.fma(p, t, C3); p = Math.fma(p, t, C2); p = Math.fma(p, t, C1);
        return Math.fma(p, t, C0);
    }

    /**
     * GELU(x) = x/2 · erfc(u), u = −x/√2. The exponent −u² + P(t) is formed as fma(−x/2, x, P) with one
     * rounding, not from a rounded u: erfc is steep (d ln erfc / d ln u ≈ −2u²), and the rounding of u
     * alone would cost ~1e-6 relative for x below −3.
     */
    static float gelu(float x) {
        float u = -x * INV_SQRT2, z = Math.abs(u);
        float t = 1f / Math.fma(0.5f, z, 1f);
        float r = t * exp(Math.fma(-0.5f * x, x, erfcPolynomial(t)));
        return 0.5f * x * (u >= 0 ? r : 2f - r);
    }

    // ---- vector forms ----------------------------------------------------------------------------

    static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
    }

    static FloatVector quickGelu(FloatVector x) {
        return x.div(exp(x.mul(-1.702f)).add(1f));
    }

    static FloatVector gelu(FloatVector x) {
        FloatVector u = x.mul(-INV_SQRT2);
        FloatVector z = u.abs();
        FloatVector t = FloatVector.broadcast(F, 1f).div(z.fma(0.5f, 1f));
        FloatVector p = t.fma(C9, C8);
        p = p.fma(t, FloatVector.broadcast(F, C7)); p = p.fma(t, FloatVector.broadcast(F, C6));
        p = p.fma(t, FloatVector.broadcast(F, C5)); p = p.fma(t, FloatVector.broadcast(F, C4));
        p = p.fma(t, FloatVector.broadcast(F, C3)); p = p.fma(t, FloatVector.broadcast(F, C2));
        p = p.fma(t, FloatVector.broadcast(F, C1)); p = p.fma(t, FloatVector.broadcast(F, C0));
        FloatVector r = t.mul(exp(x.mul(-0.5f).fma(x, p)));
        VectorMask<Float> negative = u.compare(VectorOperators.LT, 0f);
        FloatVector erfc = r.blend(FloatVector.broadcast(F, 2f).sub(r), negative);
        return x.mul(0.5f).mul(erfc);
    }

    // ---- array kernels over [off, off + n) --------------------------------------------------------

    enum Unary { SILU, QUICK_GELU, GELU }

    static void apply(Unary op, float[] x, int xo, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        switch (op) {
            case SILU -> {
                for (; i < bound; i += LANES) silu(FloatVector.fromArray(F, x, xo + i)).intoArray(y, yo + i);
                for (; i < n; i++) y[yo + i] = silu(x[xo + i]);
            }
            case QUICK_GELU -> {
                for (; i < bound; i += LANES) quickGelu(FloatVector.fromArray(F, x, xo + i)).intoArray(y, yo + i);
                for (; i < n; i++) y[yo + i] = quickGelu(x[xo + i]);
            }
            case GELU -> {
                for (; i < bound; i += LANES) gelu(FloatVector.fromArray(F, x, xo + i)).intoArray(y, yo + i);
                for (; i < n; i++) y[yo + i] = gelu(x[xo + i]);
            }
        }
    }

    /** y = a · gelu(g). */
    static void mulGelu(float[] a, int ao, float[] g, int go, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector av = FloatVector.fromArray(F, a, ao + i);
            av.mul(gelu(FloatVector.fromArray(F, g, go + i))).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = a[ao + i] * gelu(g[go + i]);
    }

    /** y = a · b. */
    static void mul(float[] a, int ao, float[] b, int bo, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector.fromArray(F, a, ao + i).mul(FloatVector.fromArray(F, b, bo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = a[ao + i] * b[bo + i];
    }

    /** y = a + b. */
    static void add(float[] a, int ao, float[] b, int bo, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector.fromArray(F, a, ao + i).add(FloatVector.fromArray(F, b, bo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = a[ao + i] + b[bo + i];
    }

    /** y = x + s (s broadcast). */
    static void addScalar(float[] x, int xo, float s, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += LANES) FloatVector.fromArray(F, x, xo + i).add(s).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] = x[xo + i] + s;
    }

    /** y = x · s. */
    static void mulScalar(float[] x, int xo, float s, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += LANES) FloatVector.fromArray(F, x, xo + i).mul(s).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] = x[xo + i] * s;
    }

    /** y = x · a + b, then SiLU when {@code silu} (the affine part of the normalisations). */
    static void scaleShift(float[] x, int xo, float a, float b, boolean silu, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        if (silu) {
            for (; i < bound; i += LANES) {
                silu(FloatVector.fromArray(F, x, xo + i).fma(a, b)).intoArray(y, yo + i);
            }
            for (; i < n; i++) y[yo + i] = silu(Math.fma(x[xo + i], a, b));
        } else {
            for (; i < bound; i += LANES) FloatVector.fromArray(F, x, xo + i).fma(a, b).intoArray(y, yo + i);
            for (; i < n; i++) y[yo + i] = Math.fma(x[xo + i], a, b);
        }
    }

    /** y = min(max(x, lo), hi). */
    static void clamp(float[] x, int xo, float lo, float hi, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += LANES) FloatVector.fromArray(F, x, xo + i).max(lo).min(hi).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] = Math.min(Math.max(x[xo + i], lo), hi);
    }

    /** y += s · x (the depthwise convolution's inner loop). */
    static void axpy(float s, float[] x, int xo, float[] y, int yo, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector.fromArray(F, x, xo + i).fma(FloatVector.broadcast(F, s), FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = Math.fma(x[xo + i], s, y[yo + i]);
    }

    // ---- reductions -------------------------------------------------------------------------------

    private static final int CHUNK = 1024;

    /**
     * Σ x over [off, off + n) in double: float lanes accumulate at most {@value #CHUNK} elements
     * before each partial sum is added in double, so the rounding error stays near float epsilon
     * however long the range.
     */
    static double sum(float[] x, int off, int n) {
        double total = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int len = Math.min(CHUNK, n - c);
            int bound = F.loopBound(len);
            FloatVector acc = FloatVector.zero(F);
            int i = 0;
            for (; i < bound; i += LANES) acc = acc.add(FloatVector.fromArray(F, x, off + c + i));
            double part = addLanes(acc);
            for (; i < len; i++) part += x[off + c + i];
            total += part;
        }
        return total;
    }

    /** Σ (x − m)² over [off, off + n) in double, chunked like {@link #sum}. */
    static double sumSquaredDeviation(float[] x, int off, int n, float m) {
        double total = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int len = Math.min(CHUNK, n - c);
            int bound = F.loopBound(len);
            FloatVector acc = FloatVector.zero(F);
            int i = 0;
            for (; i < bound; i += LANES) {
                FloatVector d = FloatVector.fromArray(F, x, off + c + i).sub(m);
                acc = d.fma(d, acc);
            }
            double part = addLanes(acc);
            for (; i < len; i++) {
                double d = x[off + c + i] - m;
                part += d * d;
            }
            total += part;
        }
        return total;
    }

    /**
     * Mean and biased variance of [off, off + n): two passes (the second around the float-rounded
     * mean, corrected exactly for the rounding), accumulated as in {@link #sum}.
     * Returns {mean, variance}.
     */
    static double[] moments(float[] x, int off, int n) {
        double mean = sum(x, off, n) / n;
        float m = (float) mean;
        double shift = mean - m;
        double var = sumSquaredDeviation(x, off, n, m) / n - shift * shift;
        return new double[] {mean, Math.max(var, 0)};
    }
}
