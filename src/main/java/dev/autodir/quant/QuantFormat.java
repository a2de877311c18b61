package dev.autodir.quant;

import java.util.Locale;

/**
 * The quantized number formats: INT8 with zero point 0 (a scale maps amax onto 127; values saturate to −128…127 as
 * ONNX QuantizeLinear and TensorRT's IQuantizeLayer do, so an activation beyond the calibrated range on the negative
 * side keeps one more level; weights, quantized from their own amax, never reach −128) and FP8 E4M3FN (1 sign, 4 exponent bits with bias
 * 7, 3 mantissa bits, no infinities, largest finite 448; what Hopper's FP8 tensor cores and ONNX's
 * {@code FLOAT8E4M3FN} take). Quantizing divides by the scale, rounds to the grid (round half to even, as ONNX
 * QuantizeLinear) and saturates.
 */
public enum QuantFormat {
    INT8("int8", 127f),
    FP8_E4M3("fp8", 448f);

    private final String label;
    private final float maxValue;

    QuantFormat(String label, float maxValue) {
        this.label = label;
        this.maxValue = maxValue;
    }

    /** "int8" / "fp8". */
    public String label() { return label; }

    /** The largest magnitude the format holds (the scale maps a range's amax onto it). */
    public float maxValue() { return maxValue; }

    public static QuantFormat parse(String s) {
        for (QuantFormat f : values()) if (f.label.equalsIgnoreCase(s) || f.name().equalsIgnoreCase(s)) return f;
        throw new IllegalArgumentException("unknown quantized format \"" + s + "\" (expected int8 or fp8)");
    }

    /** The scale that maps {@code amax} onto the format's largest value (amax 0 or not finite: 1, an unused range). */
    public float scaleFor(double amax) {
        if (!(amax > 0) || Double.isInfinite(amax)) return 1f;
        return (float) (amax / maxValue);
    }

    /** v / scale rounded to the format's grid and saturated, in units of the grid (an INT8 level, or an FP8 value). */
    public float quantize(float v, float scale) {
        float x = v / scale;
        if (Float.isNaN(x)) return this == INT8 ? 0f : Float.NaN;
        return switch (this) {
            case INT8 -> (float) Math.max(-128.0, Math.min(127.0, Math.rint(x)));
            case FP8_E4M3 -> roundE4M3(x);
        };
    }

    /** quantize then multiply back: the value a QuantizeLinear/DequantizeLinear pair passes on. */
    public float fakeQuantize(float v, float scale) { return quantize(v, scale) * scale; }

    /** The nearest E4M3FN value to x (round half to even), saturated to ±448. */
    static float roundE4M3(float x) {
        float a = Math.abs(x);
        if (a >= 448f) return Math.copySign(448f, x);
        if (a == 0f) return x;
        int e = Math.getExponent(a);                  // floor(log2 a) for normal floats
        if (e < -6) e = -6;                           // subnormal range: fixed step 2^-9
        double step = Math.scalb(1.0, e - 3);         // 3 mantissa bits
        double r = Math.rint(a / step) * step;        // rint rounds half to even
        return (float) Math.copySign(Math.min(r, 448.0), x);
    }

    /** The E4M3FN byte encoding of a value already on the grid (sign, exponent with bias 7, mantissa); NaN is 0x7F. */
    static byte encodeE4M3(float v) {
        if (Float.isNaN(v)) return 0x7F;          // E4M3FN's NaN (the cuda quantize kernel writes the same)
        int sign = v < 0 || (v == 0 && 1 / v < 0) ? 0x80 : 0;
        float a = Math.abs(roundE4M3(v));
        if (a == 0f) return (byte) sign;
        int e = Math.getExponent(a);
        int bits;
        if (e < -6) {
            bits = (int) Math.round(a / Math.scalb(1.0, -9));            // subnormal: exponent field 0, m / 8 · 2^-6
        } else {
            int mant = (int) Math.round((a / Math.scalb(1.0, e) - 1.0) * 8);
            bits = ((e + 7) << 3) | mant;
        }
        return (byte) (sign | bits);
    }

    /** The value of an E4M3FN byte (0x7F / 0xFF are NaN). */
    public static float decodeE4M3(byte b) {
        int u = b & 0xFF, sign = u & 0x80, exp = (u >> 3) & 0xF, mant = u & 7;
        if ((u & 0x7F) == 0x7F) return Float.NaN;
        double a = exp == 0 ? mant * Math.scalb(1.0, -9) : (1 + mant / 8.0) * Math.scalb(1.0, exp - 7);
        return (float) (sign != 0 ? -a : a);
    }

    @Override public String toString() { return label.toLowerCase(Locale.ROOT); }
}
