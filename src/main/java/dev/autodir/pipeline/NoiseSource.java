package dev.autodir.pipeline;

import dev.autodir.tensor.FloatTensor;

/**
 * Where the sampler's Gaussian noise comes from: the initial latent noise and the ancestral noise of step i.
 * The engine uses {@link SeededNoise}; tests inject recorded noise.
 */
public interface NoiseSource {
    /** N(0, 1) noise of the given shape for the starting latent (multiplied by σ_0 by the sampler). */
    FloatTensor initial(int... shape);

    /** N(0, 1) noise for the ancestral update of step {@code step} (0-based; the last step takes none). */
    FloatTensor step(int step, int... shape);
}
