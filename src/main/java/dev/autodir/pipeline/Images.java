package dev.autodir.pipeline;

import dev.autodir.image.Quantization;
import dev.autodir.tensor.FloatTensor;

/** Host-side image tensor helpers for the pipeline ([B, C, H, W] float32). */
public final class Images {
    private Images() { }

    /**
     * Pads right and bottom to multiples of {@code m} by mirror reflection (edge pixel not repeated, bouncing for
     * pads longer than the image; a 1-pixel side repeats).
     */
    public static FloatTensor reflectPad(FloatTensor x, int m) {
        int b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int ph = (m - h % m) % m, pw = (m - w % m) % m;
        if (ph == 0 && pw == 0) return x;
        int hh = h + ph, ww = w + pw;
        float[] in = x.data(), out = new float[b * c * hh * ww];
        for (int p = 0; p < b * c; p++) {
            for (int y = 0; y < hh; y++) {
                int sy = mirror(y, h);
                for (int xx = 0; xx < ww; xx++) out[(p * hh + y) * ww + xx] = in[(p * h + sy) * w + mirror(xx, w)];
            }
        }
        return new FloatTensor(out, b, c, hh, ww);
    }

    static int mirror(int i, int n) {
        if (n == 1) return 0;
        int period = 2 * (n - 1);
        int r = i % period;
        return r < n ? r : period - r;
    }

    /** The top-left h×w window. */
    public static FloatTensor crop(FloatTensor x, int h, int w) {
        int b = x.dim(0), c = x.dim(1), hh = x.dim(2), ww = x.dim(3);
        if (h == hh && w == ww) return x;
        float[] in = x.data(), out = new float[b * c * h * w];
        for (int p = 0; p < b * c; p++) {
            for (int y = 0; y < h; y++) System.arraycopy(in, (p * hh + y) * ww, out, (p * h + y) * w, w);
        }
        return new FloatTensor(out, b, c, h, w);
    }

    /** cat([a, b], channel) of two [1, C, H, W] tensors. */
    public static FloatTensor concatChannels(FloatTensor a, FloatTensor b) {
        if (a.dim(0) != 1 || b.dim(0) != 1 || a.dim(2) != b.dim(2) || a.dim(3) != b.dim(3)) {
            throw new IllegalArgumentException("cannot concatenate " + a + " and " + b + " along channels");
        }
        float[] out = new float[a.numel() + b.numel()];
        System.arraycopy(a.data(), 0, out, 0, a.numel());
        System.arraycopy(b.data(), 0, out, a.numel(), b.numel());
        return new FloatTensor(out, 1, a.dim(1) + b.dim(1), a.dim(2), a.dim(3));
    }

    /** The official uint8 conversion ({@link Quantization#toUint8}), returned HWC for batch entry 0. */
    public static byte[] toUint8Hwc(FloatTensor x) {
        int c = x.dim(1), h = x.dim(2), w = x.dim(3);
        byte[] out = new byte[h * w * c];
        float[] d = x.data();
        for (int ch = 0; ch < c; ch++) {
            for (int i = 0; i < h * w; i++) out[i * c + ch] = (byte) Quantization.toUint8(d[ch * h * w + i]);
        }
        return out;
    }
}
