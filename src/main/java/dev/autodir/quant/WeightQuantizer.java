package dev.autodir.quant;

import dev.autodir.tensor.FloatTensor;

/**
 * Symmetric per-output-channel weight quantization: for a convolution [Cout, Cin/g, kh, kw] or a linear layer
 * [out, in], channel c gets scale_c = max|w_c| / format max and its values are rounded to the format's grid.
 */
public final class WeightQuantizer {
    private WeightQuantizer() { }

    /**
     * A quantized weight: the grid values (INT8 levels or FP8 values, as floats), one scale per output channel, and
     * the shape.
     */
    public record Quantized(QuantFormat format, float[] values, float[] scales, int[] shape) {
        /** The dequantized weight: what a DequantizeLinear of the stored weight gives. */
        public FloatTensor dequantize() {
            int per = values.length / scales.length;
            float[] d = new float[values.length];
            for (int c = 0; c < scales.length; c++) for (int i = 0; i < per; i++) d[c * per + i] = values[c * per + i] * scales[c];
            return new FloatTensor(d, shape);
        }

        /** The INT8 levels as bytes (INT8 only). */
        public byte[] int8() {
            if (format != QuantFormat.INT8) throw new IllegalStateException("int8() of an " + format + " weight");
            byte[] b = new byte[values.length];
            for (int i = 0; i < b.length; i++) b[i] = (byte) values[i];
            return b;
        }

        /** The FP8 E4M3FN bytes (FP8 only). */
        public byte[] fp8() {
            if (format != QuantFormat.FP8_E4M3) throw new IllegalStateException("fp8() of an " + format + " weight");
            byte[] b = new byte[values.length];
            for (int i = 0; i < b.length; i++) b[i] = QuantFormat.encodeE4M3(values[i]);
            return b;
        }
    }

    /** Quantizes {@code w} (rank ≥ 2, output channels first) per output channel. */
    public static Quantized quantize(FloatTensor w, QuantFormat format) {
        if (w.rank() < 2) throw new IllegalArgumentException("per-channel quantization needs a weight of rank ≥ 2, got " + w);
        int channels = w.dim(0), per = w.numel() / Math.max(1, channels);
        float[] d = w.data(), q = new float[d.length], scales = new float[channels];
        for (int c = 0; c < channels; c++) {
            double amax = 0;
            for (int i = 0; i < per; i++) amax = Math.max(amax, Math.abs(d[c * per + i]));
            float s = format.scaleFor(amax);
            scales[c] = s;
            for (int i = 0; i < per; i++) q[c * per + i] = format.quantize(d[c * per + i], s);
        }
        return new Quantized(format, q, scales, w.shape());
    }

    /**
     * Quantizes a linear or convolution weight after SmoothQuant's column scaling (w · s_j for input channel j;
     * {@code smooth} null: none). The one place both the fake-quantized reference and the QDQ export get their
     * weights from, so the two cannot drift apart.
     */
    public static Quantized quantize(FloatTensor w, double[] smooth, QuantFormat format) {
        if (smooth == null) return quantize(w, format);
        FloatTensor x = w.copy();
        int in = w.dim(1);
        float[] d = x.data();
        for (int i = 0; i < d.length; i++) d[i] = (float) (d[i] * smooth[i % in]);
        return quantize(x, format);
    }
}
