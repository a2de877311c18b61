package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

/**
 * k-diffusion's samplers other than euler_a (crowsonkb/k-diffusion {@code sampling.py} @4601bf0, default arguments),
 * written with the backend's generic operations (add, scale) in torch's float32 order: every scalar (σ, t = −log σ,
 * step sizes) is a float32 value as the 0-dim float32 tensors of k-diffusion are, and every tensor operation rounds
 * once, as torch's do. Checked against k-diffusion itself run as the oracle ({@code SamplerOracleTest}).
 */
public final class KDiffusionSamplers {
    private KDiffusionSamplers() { }

    /** {@code sample_euler} with s_churn = 0 (γ = 0, so σ̂ = σ): x ← x + d·(σ_{i+1} − σ_i), d = (x − D)/σ_i. */
    static Tensor euler(Ops ops, Denoiser model, Tensor x, float[] sigmas, Sampler.StepListener listener) {
        int steps = sigmas.length - 1;
        for (int i = 0; i < steps; i++) {
            Tensor denoised = model.denoise(ops, x, sigmas[i]);
            if (listener != null) listener.onStep(i, steps, sigmas[i], x, denoised);
            Tensor d = toD(ops, x, sigmas[i], denoised);
            x = ops.add(x, ops.scale(d, sigmas[i + 1] - sigmas[i]));                 // x + d·dt
        }
        return x;
    }

    /** {@code sample_heun} with s_churn = 0: Heun's method (2nd order), Euler on the last step when σ_{i+1} = 0. */
    static Tensor heun(Ops ops, Denoiser model, Tensor x, float[] sigmas, Sampler.StepListener listener) {
        int steps = sigmas.length - 1;
        for (int i = 0; i < steps; i++) {
            Tensor denoised = model.denoise(ops, x, sigmas[i]);
            if (listener != null) listener.onStep(i, steps, sigmas[i], x, denoised);
            Tensor d = toD(ops, x, sigmas[i], denoised);
            float dt = sigmas[i + 1] - sigmas[i];
            if (sigmas[i + 1] == 0f) {
                x = ops.add(x, ops.scale(d, dt));                                      // Euler method
            } else {
                Tensor x2 = ops.add(x, ops.scale(d, dt));
                Tensor d2 = toD(ops, x2, sigmas[i + 1], model.denoise(ops, x2, sigmas[i + 1]));
                Tensor dPrime = ops.scale(ops.add(d, d2), 0.5f);                        // (d + d_2) / 2
                x = ops.add(x, ops.scale(dPrime, dt));
            }
        }
        return x;
    }

    /** {@code sample_dpmpp_2m}: DPM-Solver++(2M) in t = −log σ; first order on the first and the last step. */
    static Tensor dpmpp2m(Ops ops, Denoiser model, Tensor x, float[] sigmas, Sampler.StepListener listener) {
        int steps = sigmas.length - 1;
        Tensor oldDenoised = null;
        for (int i = 0; i < steps; i++) {
            Tensor denoised = model.denoise(ops, x, sigmas[i]);
            if (listener != null) listener.onStep(i, steps, sigmas[i], x, denoised);
            float t = tFn(sigmas[i]), tNext = tFn(sigmas[i + 1]);
            float h = tNext - t;
            float ratio = sigmaFn(tNext) / sigmaFn(t), em1 = (float) Math.expm1(-h);
            Tensor dd = denoised;
            if (oldDenoised != null && sigmas[i + 1] != 0f) {
                float hLast = t - tFn(sigmas[i - 1]);
                float r = hLast / h;
                float b = 1f / (2f * r), a = 1f + b;
                dd = ops.add(ops.scale(denoised, a), ops.scale(oldDenoised, -b));      // (1 + 1/(2r))·D − 1/(2r)·D_old
            }
            x = ops.add(ops.scale(x, ratio), ops.scale(dd, -em1));                    // σ'/σ·x − expm1(−h)·D
            oldDenoised = denoised;
        }
        return x;
    }

    /**
     * {@code sample_dpmpp_sde} with eta = 1, s_noise = 1, r = 1/2: per step a half step to s = t + h/2 (ancestral, with
     * noise) and a second-order full step. The noise values, noise(σ_t, σ_s) and noise(σ_t, σ_next), come in
     * k-diffusion from a Brownian tree W over σ (normalised increments W(σ_a, σ_b)/√|σ_b − σ_a|): N(0, 1) each,
     * correlated because [σ_s, σ_t] lies inside [σ_next, σ_t]. Here they come from {@link BrownianStep}: the same
     * joint law, built from two seeded draws per step; a seed does not reproduce torchsde's values.
     */
    static Tensor dpmppSde(Ops ops, Denoiser model, Tensor x, float[] sigmas, NoiseSource noise, Sampler.StepListener listener) {
        int steps = sigmas.length - 1;
        final float r = 0.5f, fac = 1f / (2f * r);
        for (int i = 0; i < steps; i++) {
            Tensor denoised = model.denoise(ops, x, sigmas[i]);
            if (listener != null) listener.onStep(i, steps, sigmas[i], x, denoised);
            if (sigmas[i + 1] == 0f) {
                Tensor d = toD(ops, x, sigmas[i], denoised);                           // Euler method
                x = ops.add(x, ops.scale(d, sigmas[i + 1] - sigmas[i]));
                continue;
            }
            float t = tFn(sigmas[i]), tNext = tFn(sigmas[i + 1]);
            float h = tNext - t;
            float s = t + h * r;
            float sigmaT = sigmaFn(t), sigmaS = sigmaFn(s), sigmaNext = sigmaFn(tNext);
            BrownianStep w = new BrownianStep(noise, i, x.shape(), sigmaT, sigmaS, sigmaNext);
            // step 1: to s
            float[] du = EulerAncestralSampler.ancestralStep(sigmaT, sigmaS);
            float s_ = tFn(du[0]);
            Tensor x2 = ops.add(ops.scale(x, sigmaFn(s_) / sigmaT), ops.scale(denoised, -(float) Math.expm1(t - s_)));
            x2 = ops.add(x2, ops.scale(ops.uploadFloat32(w.first()), du[1]));
            Tensor denoised2 = model.denoise(ops, x2, sigmaS);
            // step 2: to t_next; (1 − fac)·D + fac·D_2 with fac = 1 is D_2 exactly
            du = EulerAncestralSampler.ancestralStep(sigmaT, sigmaNext);
            float tNext_ = tFn(du[0]);
            Tensor dd = fac == 1f ? denoised2 : ops.add(ops.scale(denoised, 1f - fac), ops.scale(denoised2, fac));
            x = ops.add(ops.scale(x, sigmaFn(tNext_) / sigmaT), ops.scale(dd, -(float) Math.expm1(t - tNext_)));
            x = ops.add(x, ops.scale(ops.uploadFloat32(w.second()), du[1]));
        }
        return x;
    }

    /**
     * ldm's {@code DDIMSampler} with eta = 0 in k-diffusion's σ space, where its update x_prev = √ᾱ'·x̂₀ + √(1−ᾱ')·ε is
     * exactly the Euler step (x/√ᾱ ↦ x/√ᾱ + (σ' − σ)·ε): ldm starts from x_T ~ N(0, I) in its own units, i.e. σ-space
     * noise of variance σ_0² + 1 (so z, given as noise·σ_0, is scaled by √(σ_0² + 1)/σ_0), and its result is in its own
     * units, x·√ᾱ_end = x/√(σ_end² + 1) (σ_end = σ(ᾱ_0) with the default schedule; a no-op when σ_end = 0).
     */
    static Tensor ddim(Ops ops, Denoiser model, Tensor z, float[] sigmas, Sampler.StepListener listener) {
        float s0 = sigmas[0], end = sigmas[sigmas.length - 1];
        Tensor x = ops.scale(z, (float) (Math.sqrt((double) s0 * s0 + 1) / s0));
        x = euler(ops, model, x, sigmas, listener);
        return end > 0f ? ops.scale(x, (float) (1 / Math.sqrt((double) end * end + 1))) : x;
    }

    /** {@code to_d}: (x − D)/σ. */
    private static Tensor toD(Ops ops, Tensor x, float sigma, Tensor denoised) {
        return ops.scale(ops.add(x, ops.scale(denoised, -1f)), 1f / sigma);
    }

    /** {@code t_fn}: −log σ in float32 (+∞ at σ = 0). */
    static float tFn(float sigma) { return -(float) Math.log(sigma); }

    /** {@code sigma_fn}: exp(−t) in float32 (0 at t = +∞). */
    static float sigmaFn(float t) { return (float) Math.exp(-t); }

    /**
     * The two noise values of one dpmpp_sde step from a Brownian path W over σ: with A = draw 2i and B = draw 2i + 1
     * (independent N(0, 1)), W(σ_s, σ_t) = A·√(σ_t − σ_s) and W(σ_next, σ_s) = B·√(σ_s − σ_next), so
     * noise(σ_t, σ_s) = A and noise(σ_t, σ_next) = (A·√(σ_t − σ_s) + B·√(σ_s − σ_next))/√(σ_t − σ_next): both
     * N(0, 1), with correlation √((σ_t − σ_s)/(σ_t − σ_next)), and independent of every other step's (disjoint
     * intervals), which is the law of k-diffusion's BrownianTreeNoiseSampler for these queries.
     */
    static final class BrownianStep {
        private final FloatTensor a, b;
        private final float wa, wb;

        BrownianStep(NoiseSource noise, int step, int[] shape, float sigmaT, float sigmaS, float sigmaNext) {
            this.a = noise.step(2 * step, shape);
            this.b = noise.step(2 * step + 1, shape);
            double span = (double) sigmaT - sigmaNext;
            this.wa = (float) Math.sqrt((sigmaT - (double) sigmaS) / span);
            this.wb = (float) Math.sqrt((sigmaS - (double) sigmaNext) / span);
        }

        FloatTensor first() { return a; }

        FloatTensor second() {
            float[] ad = a.data(), bd = b.data(), out = new float[ad.length];
            for (int i = 0; i < out.length; i++) out[i] = ad[i] * wa + bd[i] * wb;
            return new FloatTensor(out, a.shape());
        }
    }
}
