package dev.autodir.pipeline;

import dev.autodir.model.ScheduleConfig;

/**
 * k-diffusion's {@code CompVisDenoiser} noise levels over an ldm schedule, in float32 exactly as torch computes
 * them: σ_i = √((1−ᾱ_i)/ᾱ_i) from the float32 {@code alphas_cumprod}, log σ interpolation for
 * {@link #getSigmas} and its inverse {@link #sigmaToT} (fractional, not quantised).
 */
public final class KDiffusionSchedule {
    private final float[] sigmas;
    private final float[] logSigmas;

    public KDiffusionSchedule(ScheduleConfig schedule) {
        float[] ac = schedule.alphasCumprod();
        if (ac == null || ac.length < 2) throw new IllegalArgumentException("schedule needs at least 2 alphas_cumprod values");
        sigmas = new float[ac.length];
        logSigmas = new float[ac.length];
        for (int i = 0; i < ac.length; i++) {
            float a = ac[i];
            if (!(a > 0 && a < 1)) throw new IllegalArgumentException("alphas_cumprod[" + i + "] = " + a + " is outside (0, 1)");
            sigmas[i] = (float) Math.sqrt((1f - a) / a);       // ((1 - ac) / ac) ** 0.5, each op in float32
            logSigmas[i] = (float) Math.log(sigmas[i]);
        }
    }

    public int size() { return sigmas.length; }

    public float sigmaMin() { return sigmas[0]; }

    public float sigmaMax() { return sigmas[sigmas.length - 1]; }

    /** σ at the integer timestep t: √((1−ᾱ_t)/ᾱ_t) (float32). */
    public float sigmaAt(int t) {
        if (t < 0 || t >= sigmas.length) throw new IllegalArgumentException("timestep " + t + " outside 0.." + (sigmas.length - 1));
        return sigmas[t];
    }

    /**
     * ldm's DDIM timesteps ({@code make_ddim_timesteps("uniform", n, T)}): c = T div n, t = 0, c, 2c, ... below T, each
     * plus one. That is ⌈T / c⌉ steps, more than n when c does not divide T (31 for n = 30). When c divides T − 1
     * (c = 1, 3, 9, 27, 37, ... for T = 1000: n = 37, or any n above 285) the last timestep is T, outside the
     * schedule, and ldm fails with an index error; so does this, naming the step count.
     */
    public int[] ddimTimesteps(int n) {
        int total = sigmas.length;
        if (n < 1 || n > total) throw new IllegalArgumentException("ddim steps must be in 1.." + total + ", got " + n);
        int c = total / n;
        int count = (total + c - 1) / c;
        if ((count - 1) * c + 1 >= total) {
            throw new IllegalArgumentException("ddim with " + n + " steps: ldm's uniform timesteps (every " + c + "th, plus one)"
                    + " end at t = " + ((count - 1) * c + 1) + ", outside the " + total + "-step schedule (ldm fails there"
                    + " too); choose another step count");
        }
        int[] t = new int[count];
        for (int i = 0; i < count; i++) t[i] = i * c + 1;
        return t;
    }

    /**
     * The σ of ldm's DDIM sampler for n steps, in sampling order: σ at each DDIM timestep from the last down, then σ
     * of ldm's ᾱ_prev of the first one, ᾱ_0 (DDIM ends at σ_0 ≈ 0.03, not at 0).
     */
    public float[] ddimSigmas(int n) {
        int[] t = ddimTimesteps(n);
        float[] out = new float[t.length + 1];
        for (int i = 0; i < t.length; i++) out[i] = sigmas[t[t.length - 1 - i]];
        out[t.length] = sigmas[0];
        return out;
    }

    /** {@code get_sigmas(n)}: σ at t = linspace(T−1, 0, n) (float32, torch's linspace), then a final 0. */
    public float[] getSigmas(int n) {
        if (n < 1) throw new IllegalArgumentException("steps must be at least 1, got " + n);
        float[] out = new float[n + 1];
        float[] t = linspace(sigmas.length - 1, 0, n);
        for (int i = 0; i < n; i++) out[i] = tToSigma(t[i]);
        out[n] = 0f;
        return out;
    }

    /** {@code t_to_sigma}: exp((1−w)·logσ[⌊t⌋] + w·logσ[⌈t⌉]) with w = frac(t). */
    public float tToSigma(float t) {
        int low = (int) Math.floor(t), high = (int) Math.ceil(t);
        float w = t - (float) Math.floor(t);                    // t.frac() for t ≥ 0
        float logSigma = (1f - w) * logSigmas[low] + w * logSigmas[high];
        return (float) Math.exp(logSigma);
    }

    /** {@code sigma_to_t} without quantisation: the fractional t whose interpolated log σ equals log σ. */
    public float sigmaToT(float sigma) {
        float logSigma = (float) Math.log(sigma);
        // low_idx = dists.ge(0).cumsum(0).argmax(0): the last i with logσ − logσ_i ≥ 0 (0 when there is none)
        int low = 0, count = 0, best = 0;
        for (int i = 0; i < logSigmas.length; i++) {
            if (logSigma - logSigmas[i] >= 0) {
                count++;
                if (count > best) { best = count; low = i; }
            }
        }
        low = Math.min(low, logSigmas.length - 2);
        int high = low + 1;
        float lo = logSigmas[low], hi = logSigmas[high];
        float w = (lo - logSigma) / (lo - hi);
        w = Math.max(0f, Math.min(1f, w));
        return (1f - w) * low + w * high;
    }

    /** torch.linspace(start, end, n) in float32: the first half counts up from start, the second half down from end. */
    public static float[] linspace(float start, float end, int n) {
        float[] out = new float[n];
        if (n == 1) { out[0] = start; return out; }
        float step = (end - start) / (float) (n - 1);
        int halfway = n / 2;
        for (int i = 0; i < n; i++) out[i] = i < halfway ? start + step * i : end - step * (n - i - 1);
        return out;
    }
}
