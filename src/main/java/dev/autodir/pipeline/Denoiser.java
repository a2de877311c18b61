package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;

/** k-diffusion's model call: the (guided) x₀ prediction for latent z at noise level σ. */
public interface Denoiser {
    Tensor denoise(Ops ops, Tensor z, float sigma);
}
