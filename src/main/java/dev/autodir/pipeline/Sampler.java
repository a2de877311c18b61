package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;

import java.util.Locale;

/**
 * The samplers a pass can use, with k-diffusion's names and semantics (crowsonkb/k-diffusion {@code sample_*} at their
 * default arguments), each driving the same {@link Denoiser} (CFG, the one-evaluation shortcut) from z = noise·σ_0:
 * <ul>
 *   <li>{@code euler_a}: {@code sample_euler_ancestral} (eta 1, s_noise 1), AutoDIR's sampler and the default; one
 *       model evaluation per step, one noise draw per step but the last.</li>
 *   <li>{@code euler}: {@code sample_euler} (s_churn 0: deterministic); one evaluation per step.</li>
 *   <li>{@code heun}: {@code sample_heun} (s_churn 0): a second evaluation per step but the last (2n − 1 in all).</li>
 *   <li>{@code dpmpp_2m}: {@code sample_dpmpp_2m} (DPM-Solver++(2M)); one evaluation per step.</li>
 *   <li>{@code dpmpp_sde}: {@code sample_dpmpp_sde} (eta 1, s_noise 1, r 1/2): two evaluations per step but the last,
 *       and two noise values per step; k-diffusion draws them from a Brownian tree, here from a Brownian path built
 *       from two seeded draws per step ({@link KDiffusionSamplers#dpmppSde}).</li>
 *   <li>{@code ddim}: ldm's {@code DDIMSampler} with eta 0 (what ldm and AutoDIR's code base call DDIM; k-diffusion has
 *       no DDIM): with the default schedule its uniform timesteps and its end at ᾱ_0, from x_T ~ N(0, I) in ldm's
 *       units. Its update is the Euler step in k-diffusion's σ space, so it runs as {@code euler} with ldm's start and
 *       end scaling ({@link KDiffusionSamplers#ddim}).</li>
 * </ul>
 * The noise of draw k of a pass is {@code noise.step(k)}: euler_a's draw k is its step k's, dpmpp_sde's step i takes
 * draws 2i and 2i + 1. Every pass re-seeds, so each pass repeats its draws, as the official script does.
 */
public enum Sampler {
    EULER_A("euler_a"), EULER("euler"), HEUN("heun"), DPMPP_2M("dpmpp_2m"), DPMPP_SDE("dpmpp_sde"), DDIM("ddim");

    /** Called after the first model evaluation of each step (for progress and for recording intermediates). */
    public interface StepListener {
        /** {@code z} is x before step i, {@code denoised} the guided x₀ prediction at step i (at σ_i). */
        void onStep(int step, int steps, float sigma, Tensor z, Tensor denoised);
    }

    private final String cliName;

    Sampler(String cliName) { this.cliName = cliName; }

    public String cliName() { return cliName; }

    public static Sampler parse(String s) {
        for (Sampler k : values()) if (k.cliName.equals(s.toLowerCase(Locale.ROOT))) return k;
        throw new IllegalArgumentException("unknown sampler \"" + s + "\" (choose euler_a, euler, heun, dpmpp_2m, dpmpp_sde or ddim)");
    }

    /**
     * The noise levels of a pass of {@code steps} steps: {@code kind}'s list, except that ddim with the default schedule
     * takes ldm's DDIM timesteps ({@link KDiffusionSchedule#ddimSigmas}).
     */
    public float[] sigmas(KDiffusionSchedule schedule, SigmaSchedule kind, int steps) {
        if (this == DDIM && kind == SigmaSchedule.DEFAULT) return schedule.ddimSigmas(steps);
        return kind.sigmas(schedule, steps);
    }

    /** Model evaluations of a pass over {@code sigmas} (steps + 1 values). */
    public int evaluations(float[] sigmas) {
        int steps = sigmas.length - 1;
        boolean endsAtZero = sigmas[steps] == 0f;
        return switch (this) {
            case HEUN, DPMPP_SDE -> 2 * steps - (endsAtZero ? 1 : 0);
            default -> steps;
        };
    }

    /**
     * Runs the sampler from {@code z} (already multiplied by σ_0) over {@code sigmas}; returns the final latent.
     * {@code listener} may be null.
     */
    public Tensor sample(Ops ops, Denoiser model, Tensor z, float[] sigmas, NoiseSource noise, StepListener listener) {
        if (sigmas.length < 2) throw new IllegalArgumentException("a pass needs at least 2 noise levels, got " + sigmas.length);
        return switch (this) {
            case EULER_A -> EulerAncestralSampler.sample(ops, model, z, sigmas, noise, listener);
            case EULER -> KDiffusionSamplers.euler(ops, model, z, sigmas, listener);
            case HEUN -> KDiffusionSamplers.heun(ops, model, z, sigmas, listener);
            case DPMPP_2M -> KDiffusionSamplers.dpmpp2m(ops, model, z, sigmas, listener);
            case DPMPP_SDE -> KDiffusionSamplers.dpmppSde(ops, model, z, sigmas, noise, listener);
            case DDIM -> KDiffusionSamplers.ddim(ops, model, z, sigmas, listener);
        };
    }
}
