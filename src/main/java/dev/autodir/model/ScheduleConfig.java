package dev.autodir.model;

/**
 * The DDPM schedule. {@code alphasCumprod} is the checkpoint's float32 buffer when present, else it
 * is computed as ldm does (betas = linspace(√start, √end, T)² in float64, cumulative product, stored
 * as float32).
 */
public record ScheduleConfig(double linearStart, double linearEnd, int timesteps, double scaleFactor, float[] alphasCumprod) {
    /** The most timesteps accepted (DDPM uses 1000; a longer buffer is corrupt or hostile, and would be read whole). */
    public static final int MAX_TIMESTEPS = 100_000;

    /** linear_start and linear_end are betas: 0 &lt; start ≤ end &lt; 1; scale_factor is in (0, 1000]. */
    public ScheduleConfig {
        if (!(linearStart > 0 && linearStart <= linearEnd && linearEnd < 1)) {
            throw new IllegalArgumentException("linear_start " + linearStart + " and linear_end " + linearEnd
                    + " must satisfy 0 < linear_start <= linear_end < 1");
        }
        if (!(scaleFactor > 0 && scaleFactor <= 1000)) {
            throw new IllegalArgumentException("scale_factor must be in (0, 1000], got " + scaleFactor);
        }
        if (timesteps < 1 || timesteps > MAX_TIMESTEPS) {
            throw new IllegalArgumentException("timesteps must be in 1.." + MAX_TIMESTEPS + ", got " + timesteps);
        }
        if (alphasCumprod.length != timesteps) {
            throw new IllegalArgumentException("alphas_cumprod has " + alphasCumprod.length + " entries for " + timesteps + " timesteps");
        }
    }

    public static ScheduleConfig official() {
        return fromLinear(0.00085, 0.012, 1000, 0.18215);
    }

    public static ScheduleConfig fromLinear(double start, double end, int timesteps, double scaleFactor) {
        if (timesteps < 1 || timesteps > MAX_TIMESTEPS) {
            throw new IllegalArgumentException("timesteps must be in 1.." + MAX_TIMESTEPS + ", got " + timesteps);
        }
        float[] ac = new float[timesteps];
        double prod = 1;
        double a = Math.sqrt(start), b = Math.sqrt(end);
        for (int i = 0; i < timesteps; i++) {
            // torch.linspace (float64): the first half counts up from start, the second half down from end
            double step = timesteps == 1 ? 0 : (b - a) / (timesteps - 1);
            double s = i < timesteps / 2 ? a + step * i : b - step * (timesteps - 1 - i);
            prod *= 1 - s * s;
            ac[i] = (float) prod;
        }
        return new ScheduleConfig(start, end, timesteps, scaleFactor, ac);
    }
}
