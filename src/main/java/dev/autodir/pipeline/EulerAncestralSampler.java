package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;

/**
 * k-diffusion {@code sample_euler_ancestral} with eta = 1 and s_noise = 1, in its float32 order of operations; the update
 * is one backend operation per step ({@link Ops#eulerAncestralStep}, a kernel on the cuda backend). {@link Sampler#EULER_A}.
 */
public final class EulerAncestralSampler {

    private EulerAncestralSampler() { }

    /** σ_up = min(σ', √(σ'²(σ²−σ'²)/σ²)), σ_down = √(σ'² − σ_up²), in float32. */
    public static float[] ancestralStep(float sigmaFrom, float sigmaTo) {
        float to2 = sigmaTo * sigmaTo, from2 = sigmaFrom * sigmaFrom;
        float up = (float) Math.sqrt(to2 * (from2 - to2) / from2);
        if (!(up < sigmaTo)) up = sigmaTo;                    // Python min(sigma_to, up)
        float down = (float) Math.sqrt(to2 - up * up);
        return new float[] {down, up};
    }

    /**
     * Runs the sampler from {@code z} (already multiplied by σ_0) over {@code sigmas} (steps + 1 values ending in
     * 0). Ancestral noise for step i comes from {@code noise.step(i, shape)} whenever σ_{i+1} &gt; 0.
     */
    public static Tensor sample(Ops ops, Denoiser model, Tensor z, float[] sigmas, NoiseSource noise, Sampler.StepListener listener) {
        int steps = sigmas.length - 1;
        for (int i = 0; i < steps; i++) {
            Tensor denoised = model.denoise(ops, z, sigmas[i]);
            if (listener != null) listener.onStep(i, steps, sigmas[i], z, denoised);
            float[] du = ancestralStep(sigmas[i], sigmas[i + 1]);
            Tensor n = sigmas[i + 1] > 0 ? ops.uploadFloat32(noise.step(i, z.shape())) : null;
            z = ops.eulerAncestralStep(z, denoised, n, sigmas[i], du[0], du[1]);
        }
        return z;
    }
}
