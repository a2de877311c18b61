package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

import java.util.List;

/**
 * {@code CompVisDenoiser} (eps parameterisation: c_in = 1/√(σ²+1), denoised = z − σ·eps, fractional t(σ))
 * under {@code eval_w_SCM.CFGDenoiser}'s three-branch guidance: [cond, image-only, uncond] =
 * crossattn [cond, null, null] × concat [c, c, 0], combined as
 * uncond + sText·(cond − img) + sImg·(img − uncond). With sText = sImg = 1 the combination is cond
 * (up to float rounding), so only the conditional branch is evaluated: one UNet call per step instead of three.
 */
public final class CFGDenoiser implements Denoiser {
    private final KDiffusionSchedule schedule;
    private final Tensor cConcat, cond, uncond;
    private final float sText, sImg;
    private final boolean threeBranches;
    private final UNetEvaluator unet;
    private Tensor zeros;

    /**
     * @param unet    the compiled UNet on the backend every tensor here lives on
     * @param cConcat [1, E, h, w] the VAE posterior mean of the input
     * @param cond    [1, T, D] the conditioning (BIQA mixture or a user prompt)
     * @param uncond  [1, T, D] the null-prompt context (may be null when both scales are 1)
     */
    public CFGDenoiser(UNetEvaluator unet, KDiffusionSchedule schedule, Tensor cConcat, Tensor cond, Tensor uncond,
                       float sText, float sImg, boolean forceThreeBranches) {
        this.unet = unet;
        this.schedule = schedule;
        this.cConcat = cConcat;
        this.cond = cond;
        this.uncond = uncond;
        this.sText = sText;
        this.sImg = sImg;
        this.threeBranches = forceThreeBranches || sText != 1f || sImg != 1f;
        if (threeBranches && uncond == null) throw new IllegalArgumentException("classifier-free guidance needs the null-prompt context");
    }

    public boolean threeBranches() { return threeBranches; }

    @Override public Tensor denoise(Ops ops, Tensor z, float sigma) {
        return threeBranches ? combine(ops, branches(ops, z, sigma), sText, sImg) : branch(ops, z, sigma, cConcat, cond, 1);
    }

    /** The three guided branches [cond, image-only, uncond] as one batch of 3k (k = z's batch) → denoised [3k, E, h, w]. */
    public Tensor branches(Ops ops, Tensor z, float sigma) {
        if (zeros == null) zeros = ops.upload(FloatTensor.zeros(cConcat.shape()));
        Tensor z3 = ops.concat(List.of(z, z, z), 0);
        Tensor concat3 = ops.concat(List.of(cConcat, cConcat, zeros), 0);
        Tensor ctx3 = ops.concat(List.of(cond, uncond, uncond), 0);
        return branch(ops, z3, sigma, concat3, ctx3, 3);
    }

    /** uncond + sText·(cond − img) + sImg·(img − uncond) of a [3k, ...] batch of denoised branches (k latents each). */
    public static Tensor combine(Ops ops, Tensor denoised3, float sText, float sImg) {
        int k = denoised3.shape()[0] / 3;
        return ops.cfgCombine(ops.slice(denoised3, 0, 0, k), ops.slice(denoised3, 0, k, 2 * k), ops.slice(denoised3, 0, 2 * k, 3 * k),
                sText, sImg);
    }

    private Tensor branch(Ops ops, Tensor z, float sigma, Tensor concat, Tensor ctx, int batch) {
        float cIn = 1f / (float) Math.sqrt(sigma * sigma + 1f);                   // 1 / (σ² + σ_data²) ** 0.5
        Tensor x = ops.concat(List.of(ops.scale(z, cIn), concat), 1);              // apply_model: cat([z·c_in, c_concat])
        Tensor eps = unet.eps(x, schedule.sigmaToT(sigma), ctx);
        return ops.add(z, ops.scale(eps, -sigma));                                 // input + eps · c_out, c_out = −σ
    }
}
