package dev.autodir.model;

/**
 * The DDPM schedule. {@code alphasCumprod} is the checkpoint's float32 buffer when present, else it
 * is computed as ldm does (betas = linspace(√start, √end, T)² in float64, cumulative product, stored
 * as float32).
 */
public record ScheduleConfig(double linearStart, double linearEnd, int timesteps, double scaleFactor, float[] alphasCumprod) {
    public static ScheduleConfig official() {
        return fromLinear(0.00085, 0.012, 1000, 0.18215);
    }

    public static ScheduleConfig fromLinear(double start, double end, int timesteps, double scaleFactor) {
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
