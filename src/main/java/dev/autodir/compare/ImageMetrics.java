package dev.autodir.compare;

import dev.autodir.image.Quantization;
import dev.autodir.tensor.FloatTensor;

/**
 * How far an output image is from the reference's, on what is written: the uint8 images of the official conversion
 * ({@link Quantization#toUint8}). PSNR over all channels (peak 255; infinite for identical images), SSIM (Wang et al.
 * 2004: 11×11 Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255, per channel, averaged over valid windows and
 * channels), the largest absolute difference of a uint8 value.
 */
public record ImageMetrics(double psnr, double ssim, int maxUint8Diff) {

    public static ImageMetrics of(FloatTensor image, FloatTensor reference) {
        if (!java.util.Arrays.equals(image.shape(), reference.shape())) {
            throw new IllegalArgumentException("images of shapes " + java.util.Arrays.toString(image.shape()) + " and "
                    + java.util.Arrays.toString(reference.shape()) + " cannot be compared");
        }
        int c = image.dim(1), h = image.dim(2), w = image.dim(3);
        double[] a = uint8(image), b = uint8(reference);
        double se = 0;
        int maxDiff = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - b[i];
            se += d * d;
            maxDiff = Math.max(maxDiff, (int) Math.abs(d));
        }
        double mse = se / a.length;
        double psnr = mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / mse);
        double ssim = 0;
        for (int ch = 0; ch < c; ch++) ssim += ssim(a, b, ch * h * w, h, w);
        return new ImageMetrics(psnr, ssim / c, maxDiff);
    }

    private static double[] uint8(FloatTensor t) {
        double[] out = new double[t.numel()];
        for (int i = 0; i < out.length; i++) out[i] = Quantization.toUint8(t.data()[i]);
        return out;
    }

    /** Mean SSIM of one channel over the windows that fit (the whole image when it is smaller than the window). */
    static double ssim(double[] x, double[] y, int off, int h, int w) {
        int r = 5;
        double[] g = new double[2 * r + 1];
        double gs = 0;
        for (int i = -r; i <= r; i++) gs += g[i + r] = Math.exp(-(i * i) / (2 * 1.5 * 1.5));
        for (int i = 0; i < g.length; i++) g[i] /= gs;
        double c1 = Math.pow(0.01 * 255, 2), c2 = Math.pow(0.03 * 255, 2);
        if (h < 2 * r + 1 || w < 2 * r + 1) return window(x, y, off, w, 0, 0, h, w, null, c1, c2);
        double sum = 0;
        int n = 0;
        for (int i = r; i < h - r; i++) {
            for (int j = r; j < w - r; j++) {
                sum += window(x, y, off, w, i - r, j - r, 2 * r + 1, 2 * r + 1, g, c1, c2);
                n++;
            }
        }
        return sum / n;
    }

    private static double window(double[] x, double[] y, int off, int w, int top, int left, int wh, int ww, double[] g, double c1, double c2) {
        double mx = 0, my = 0, wsum = 0;
        for (int i = 0; i < wh; i++) {
            for (int j = 0; j < ww; j++) {
                double k = g == null ? 1 : g[i] * g[j];
                int p = off + (top + i) * w + left + j;
                mx += k * x[p];
                my += k * y[p];
                wsum += k;
            }
        }
        mx /= wsum;
        my /= wsum;
        double vx = 0, vy = 0, cov = 0;
        for (int i = 0; i < wh; i++) {
            for (int j = 0; j < ww; j++) {
                double k = g == null ? 1 : g[i] * g[j];
                int p = off + (top + i) * w + left + j;
                vx += k * (x[p] - mx) * (x[p] - mx);
                vy += k * (y[p] - my) * (y[p] - my);
                cov += k * (x[p] - mx) * (y[p] - my);
            }
        }
        vx /= wsum;
        vy /= wsum;
        cov /= wsum;
        return ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
}
