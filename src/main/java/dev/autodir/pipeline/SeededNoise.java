package dev.autodir.pipeline;

import dev.autodir.tensor.FloatTensor;

import java.util.SplittableRandom;

/**
 * Deterministic Gaussian noise from a seed: the same seed, shape and step give the same values on every machine
 * and every run. Like the official script, which re-seeds before each restoration pass, a fresh instance per
 * pass repeats the same draws. The values are our own (SplittableRandom + Box–Muller), not torch.randn's:
 * a seed does not reproduce the official script's noise.
 */
public final class SeededNoise implements NoiseSource {
    private final long seed;

    public SeededNoise(long seed) { this.seed = seed; }

    @Override public FloatTensor initial(int... shape) { return draw(new SplittableRandom(seed), shape); }

    @Override public FloatTensor step(int step, int... shape) {
        // an independent stream per step: the noise of step i does not depend on what was drawn before it
        return draw(new SplittableRandom(seed + 0x9E3779B97F4A7C15L * (step + 1L)), shape);
    }

    private static FloatTensor draw(SplittableRandom r, int[] shape) {
        FloatTensor t = FloatTensor.zeros(shape);
        float[] d = t.data();
        for (int i = 0; i < d.length; i += 2) {
            double u1 = 1.0 - r.nextDouble();                 // (0, 1]
            double u2 = r.nextDouble();
            double radius = Math.sqrt(-2.0 * Math.log(u1));
            d[i] = (float) (radius * Math.cos(2 * Math.PI * u2));
            if (i + 1 < d.length) d[i + 1] = (float) (radius * Math.sin(2 * Math.PI * u2));
        }
        return t;
    }
}
