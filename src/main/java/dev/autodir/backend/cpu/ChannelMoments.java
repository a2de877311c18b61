package dev.autodir.backend.cpu;

import jdk.incubator.vector.FloatVector;

import static dev.autodir.backend.cpu.VectorMath.F;
import static dev.autodir.backend.cpu.VectorMath.LANES;

/**
 * LayerNorm over channels at each pixel (NAFNet's LayerNorm2d) for a tile of neighbouring pixels:
 * the loops run along the contiguous pixel axis so they vectorise, and the sums over at most a few
 * hundred channels stay exact to float rounding.
 */
final class ChannelMoments {
    private ChannelMoments() { }

    /**
     * For pixels [base, base + len) of an image whose channel c starts at {@code base + c·plane}: the
     * mean into {@code mean} and 1/√(var + eps) (biased variance, two passes) into {@code rstd}.
     */
    static void compute(float[] x, int base, int plane, int channels, int len, float[] mean, float[] rstd, float eps) {
        java.util.Arrays.fill(mean, 0, len, 0f);
        java.util.Arrays.fill(rstd, 0, len, 0f);
        int bound = F.loopBound(len);
        for (int c = 0; c < channels; c++) {
            int off = base + c * plane, i = 0;
            for (; i < bound; i += LANES) {
                FloatVector.fromArray(F, mean, i).add(FloatVector.fromArray(F, x, off + i)).intoArray(mean, i);
            }
            for (; i < len; i++) mean[i] += x[off + i];
        }
        float inv = 1f / channels;
        for (int i = 0; i < len; i++) mean[i] *= inv;
        for (int c = 0; c < channels; c++) {
            int off = base + c * plane, i = 0;
            for (; i < bound; i += LANES) {
                FloatVector d = FloatVector.fromArray(F, x, off + i).sub(FloatVector.fromArray(F, mean, i));
                d.fma(d, FloatVector.fromArray(F, rstd, i)).intoArray(rstd, i);
            }
            for (; i < len; i++) {
                float d = x[off + i] - mean[i];
                rstd[i] = Math.fma(d, d, rstd[i]);
            }
        }
        for (int i = 0; i < len; i++) rstd[i] = (float) (1 / Math.sqrt(rstd[i] * inv + eps));
    }

    /** y = (x − mean) · rstd · γ + β over one channel's pixels [off, off + len). */
    static void apply(float[] x, float[] y, int off, int len, float[] mean, float[] rstd, float gamma, float beta) {
        int bound = F.loopBound(len), i = 0;
        for (; i < bound; i += LANES) {
            FloatVector v = FloatVector.fromArray(F, x, off + i).sub(FloatVector.fromArray(F, mean, i))
                    .mul(FloatVector.fromArray(F, rstd, i));
            v.fma(gamma, beta).intoArray(y, off + i);
        }
        for (; i < len; i++) y[off + i] = Math.fma((x[off + i] - mean[i]) * rstd[i], gamma, beta);
    }
}
