package dev.autodir.backend.cpu;

import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

import static dev.autodir.backend.cpu.CpuTensors.cpu;

/** The cpu backend's normalisations (GroupNorm, LayerNorm, NAFNet's LayerNorm2d), statistics accumulated in double. */
final class CpuNormalization {
    private final Parallel parallel;

    CpuNormalization(Parallel parallel) { this.parallel = parallel; }

    Tensor groupNorm(Tensor xt, int groups, Tensor gt, Tensor bt, float eps, boolean silu) {
        FloatTensor x = cpu(xt, "groupNorm", "x"), gamma = cpu(gt, "groupNorm", "gamma"), beta = cpu(bt, "groupNorm", "beta");
        Shapes.groupNorm(x.shape(), groups, gamma.shape(), beta.shape());
        int batch = x.dim(0), channels = x.dim(1);
        int spatial = channels == 0 || batch == 0 ? 0 : x.numel() / (batch * channels);
        int perGroup = channels / groups;
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] xd = x.data(), od = out.data(), gd = gamma.data(), bd = beta.data();
        parallel.forRange(batch * groups, (long) perGroup * spatial, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int bi = p / groups, gi = p % groups;
                int off = (bi * channels + gi * perGroup) * spatial;
                double[] mv = VectorMath.moments(xd, off, perGroup * spatial);
                double rstd = 1 / Math.sqrt(mv[1] + eps);
                for (int c = gi * perGroup; c < (gi + 1) * perGroup; c++) {
                    float a = (float) (gd[c] * rstd);
                    float s = (float) (bd[c] - mv[0] * gd[c] * rstd);
                    int co = (bi * channels + c) * spatial;
                    VectorMath.scaleShift(xd, co, a, s, silu, od, co, spatial);
                }
            }
        });
        return out;
    }

    Tensor layerNorm(Tensor xt, Tensor gt, Tensor bt, float eps) {
        FloatTensor x = cpu(xt, "layerNorm", "x"), gamma = cpu(gt, "layerNorm", "gamma"), beta = cpu(bt, "layerNorm", "beta");
        Shapes.layerNorm(x.shape(), gamma.shape(), beta.shape());
        int width = x.dim(-1);
        FloatTensor out = FloatTensor.zeros(x.shape());
        if (width == 0) return out;
        int rows = x.numel() / width;
        float[] xd = x.data(), od = out.data(), gd = gamma.data(), bd = beta.data();
        parallel.forRange(rows, width, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int off = r * width;
                double[] mv = VectorMath.moments(xd, off, width);
                float mean = (float) mv[0], rstd = (float) (1 / Math.sqrt(mv[1] + eps));
                normalizeRow(xd, off, mean, rstd, gd, bd, od, width);
            }
        });
        return out;
    }

    /** y = (x − mean) · rstd · γ + β over one row. */
    private static void normalizeRow(float[] x, int off, float mean, float rstd, float[] gamma, float[] beta, float[] y, int n) {
        var f = VectorMath.F;
        int bound = f.loopBound(n), i = 0;
        for (; i < bound; i += f.length()) {
            var v = jdk.incubator.vector.FloatVector.fromArray(f, x, off + i).sub(mean).mul(rstd);
            v.fma(jdk.incubator.vector.FloatVector.fromArray(f, gamma, i), jdk.incubator.vector.FloatVector.fromArray(f, beta, i))
                    .intoArray(y, off + i);
        }
        for (; i < n; i++) y[off + i] = Math.fma((x[off + i] - mean) * rstd, gamma[i], beta[i]);
    }

    Tensor layerNormChannels(Tensor xt, Tensor gt, Tensor bt, float eps) {
        FloatTensor x = cpu(xt, "layerNormChannels", "x"), gamma = cpu(gt, "layerNormChannels", "gamma"),
                beta = cpu(bt, "layerNormChannels", "beta");
        Shapes.layerNormChannels(x.shape(), gamma.shape(), beta.shape());
        int batch = x.dim(0), channels = x.dim(1), plane = x.dim(2) * x.dim(3);
        FloatTensor out = FloatTensor.zeros(x.shape());
        if (channels == 0 || plane == 0) return out;
        float[] xd = x.data(), od = out.data(), gd = gamma.data(), bd = beta.data();
        final int tile = 256;
        int tilesPerImage = (plane + tile - 1) / tile;
        parallel.forRange(batch * tilesPerImage, (long) tile * channels, (t0, t1) -> {
            float[] mean = new float[tile], m2 = new float[tile];
            for (int t = t0; t < t1; t++) {
                int bi = t / tilesPerImage, p0 = (t % tilesPerImage) * tile, len = Math.min(tile, plane - p0);
                int base = bi * channels * plane + p0;
                ChannelMoments.compute(xd, base, plane, channels, len, mean, m2, eps);
                for (int c = 0; c < channels; c++) {
                    ChannelMoments.apply(xd, od, base + c * plane, len, mean, m2, gd[c], bd[c]);
                }
            }
        });
        return out;
    }
}
