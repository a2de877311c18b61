package dev.autodir.quant;

import java.util.Arrays;

/**
 * The range of one activation tensor over a calibration run: the largest magnitude seen, a histogram of magnitudes
 * for percentile ranges, and (for the inputs of linear layers) the largest magnitude per input channel, which the
 * SmoothQuant factors need. The histogram has {@link #BINS} bins over [0, range); when a larger value arrives the range
 * doubles and neighbouring bins merge, so its cost per element is constant and the percentile is exact to one bin
 * (range / BINS) — the approach of TensorRT's and PyTorch's histogram calibrators.
 */
public final class ActivationStats {
    public static final int BINS = 2048;

    private final long[] hist = new long[BINS];
    private double range;              // upper edge of the histogram; 0 until the first non-zero value
    private double amax;
    private long count;
    private long nonFinite;
    private double[] channelAmax;      // per input channel (last dimension), or null

    /** Adds the values of one call; {@code channels} > 0 also tracks per-channel maxima over the last dimension. */
    public void add(float[] v, int channels) {
        if (channels > 0) {
            if (channelAmax == null) channelAmax = new double[channels];
            if (channelAmax.length != channels) {
                throw new IllegalArgumentException("activation with " + channels + " channels, earlier calls had " + channelAmax.length);
            }
        }
        double localMax = 0;
        for (float x : v) {
            if (!Float.isFinite(x)) { nonFinite++; continue; }
            localMax = Math.max(localMax, Math.abs(x));
        }
        if (localMax > 0) grow(localMax);
        amax = Math.max(amax, localMax);
        for (int i = 0; i < v.length; i++) {
            float x = v[i];
            if (!Float.isFinite(x)) continue;
            double a = Math.abs(x);
            if (range > 0) hist[(int) Math.min(BINS - 1, a / range * BINS)]++;
            if (channelAmax != null) {
                int c = i % channels;
                if (a > channelAmax[c]) channelAmax[c] = a;
            }
        }
        count += v.length;
    }

    private void grow(double needed) {
        if (range == 0) {
            range = needed * 1.0000001;
            return;
        }
        while (range <= needed) {
            for (int i = 0; i < BINS / 2; i++) hist[i] = hist[2 * i] + hist[2 * i + 1];
            Arrays.fill(hist, BINS / 2, BINS, 0);
            range *= 2;
        }
    }

    public double amax() { return amax; }

    public long count() { return count; }

    /** Values that were NaN or infinite (a broken calibration: the caller should refuse it). */
    public long nonFinite() { return nonFinite; }

    /** The magnitude below which a fraction {@code p} of the values lie (upper edge of that bin; ≤ amax). */
    public double percentile(double p) {
        if (!(p > 0 && p <= 1)) throw new IllegalArgumentException("percentile must be in (0, 1], got " + p);
        long total = 0;
        for (long h : hist) total += h;
        if (total == 0) return 0;
        long want = (long) Math.ceil(p * total), seen = 0;
        for (int i = 0; i < BINS; i++) {
            seen += hist[i];
            if (seen >= want) return Math.min(amax, (i + 1) * range / BINS);
        }
        return amax;
    }

    /** Per-input-channel maxima (linear layers), or null. */
    public double[] channelAmax() { return channelAmax == null ? null : channelAmax.clone(); }
}
