package dev.autodir.pipeline;

import java.util.Locale;

/**
 * The noise levels a pass samples through, with k-diffusion's names: {@code default} is the model's own discretisation
 * ({@code CompVisDenoiser.get_sigmas(n)}, or ldm's DDIM timesteps for {@link Sampler#DDIM}), {@code karras}
 * {@code get_sigmas_karras(n, σ_min, σ_max, rho=7)} and {@code exponential} {@code get_sigmas_exponential(n, σ_min,
 * σ_max)}, with σ_min and σ_max the model's smallest and largest σ (as k-diffusion users pass
 * {@code model.sigmas[0]} and {@code model.sigmas[-1]}). Every list has n + 1 values and ends in 0, except ldm's DDIM.
 */
public enum SigmaSchedule {
    DEFAULT("default"), KARRAS("karras"), EXPONENTIAL("exponential");

    private final String cliName;

    SigmaSchedule(String cliName) { this.cliName = cliName; }

    public String cliName() { return cliName; }

    public static SigmaSchedule parse(String s) {
        for (SigmaSchedule k : values()) if (k.cliName.equals(s.toLowerCase(Locale.ROOT))) return k;
        throw new IllegalArgumentException("unknown schedule \"" + s + "\" (choose default, karras or exponential)");
    }

    /** The σ of {@code steps} steps, in float32 as torch computes them. */
    public float[] sigmas(KDiffusionSchedule schedule, int steps) {
        if (steps < 1) throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        return switch (this) {
            case DEFAULT -> schedule.getSigmas(steps);
            case KARRAS -> karras(steps, schedule.sigmaMin(), schedule.sigmaMax(), 7.0);
            case EXPONENTIAL -> exponential(steps, schedule.sigmaMin(), schedule.sigmaMax());
        };
    }

    /**
     * {@code get_sigmas_karras}: (max^(1/ρ) + ramp·(min^(1/ρ) − max^(1/ρ)))^ρ over ramp = linspace(0, 1, n), then 0.
     * The ρ-th roots are Python floats (double); torch rounds them to float32 where they meet the float32 ramp.
     */
    static float[] karras(int n, double sigmaMin, double sigmaMax, double rho) {
        double minInv = Math.pow(sigmaMin, 1 / rho), maxInv = Math.pow(sigmaMax, 1 / rho);
        float base = (float) maxInv, span = (float) (minInv - maxInv);
        float[] ramp = KDiffusionSchedule.linspace(0f, 1f, n);
        float[] out = new float[n + 1];
        for (int i = 0; i < n; i++) out[i] = (float) Math.pow(base + ramp[i] * span, (float) rho);
        return out;
    }

    /** {@code get_sigmas_exponential}: exp(linspace(log σ_max, log σ_min, n)) in float32, then 0. */
    static float[] exponential(int n, double sigmaMin, double sigmaMax) {
        float[] t = KDiffusionSchedule.linspace((float) Math.log(sigmaMax), (float) Math.log(sigmaMin), n);
        float[] out = new float[n + 1];
        for (int i = 0; i < n; i++) out[i] = (float) Math.exp(t[i]);
        return out;
    }
}
