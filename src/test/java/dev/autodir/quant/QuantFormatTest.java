package dev.autodir.quant;

import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuantFormatTest {
    /** Every E4M3FN code but the two NaNs decodes to a value that rounds and encodes back to the same code. */
    @Test void e4m3CodesRoundTrip() {
        TreeSet<Float> values = new TreeSet<>();
        for (int u = 0; u < 256; u++) {
            byte b = (byte) u;
            float v = QuantFormat.decodeE4M3(b);
            if ((u & 0x7F) == 0x7F) {
                assertTrue(Float.isNaN(v), "code " + u);
                continue;
            }
            assertEquals(v, QuantFormat.roundE4M3(v), "code " + u + " is on the grid");
            if (v != 0f) assertEquals(u, QuantFormat.encodeE4M3(v) & 0xFF, "code " + u + " value " + v);
            values.add(v);
        }
        assertEquals(448f, values.last());
        assertEquals((float) Math.scalb(1.0, -9), values.higher(0f));          // smallest subnormal
        assertEquals(254, values.size());                                     // 256 codes less 2 NaNs (Float orders −0 below +0)
    }

    /** Rounding goes to the nearest grid value (ties to even mantissa), and beyond 448 saturates. */
    /** NaN stays NaN in E4M3FN storage (it was once encoded as 0x38, i.e. 1.0). */
    @Test void e4m3EncodesNaNAsNaN() {
        assertEquals(0x7F, QuantFormat.encodeE4M3(Float.NaN) & 0xFF);
        assertTrue(Float.isNaN(QuantFormat.decodeE4M3(QuantFormat.encodeE4M3(Float.NaN))));
    }

    @Test void e4m3RoundsToNearestAndSaturates() {
        TreeSet<Float> grid = new TreeSet<>();
        for (int u = 0; u < 0x7F; u++) grid.add(QuantFormat.decodeE4M3((byte) u));
        Random r = new Random(3);
        for (int i = 0; i < 20000; i++) {
            float x = (float) (Math.exp(r.nextGaussian() * 3) * (r.nextBoolean() ? 1 : -1));
            float q = QuantFormat.roundE4M3(x);
            float a = Math.min(Math.abs(x), 448f);
            Float lo = grid.floor(a), hi = grid.ceiling(a);
            float best = hi == null || (lo != null && a - lo <= hi - a) ? lo : hi;
            if (lo != null && hi != null && a - lo == hi - a) {
                assertTrue(Math.abs(q) == lo || Math.abs(q) == hi, "tie at " + x);
            } else {
                assertEquals(best, Math.abs(q), "x = " + x);
            }
            assertEquals(Math.signum(x), Math.signum(q) == 0 ? Math.signum(x) : Math.signum(q));
        }
        assertEquals(448f, QuantFormat.roundE4M3(1e6f));
        assertEquals(-448f, QuantFormat.roundE4M3(-500f));
        assertEquals(1.0f, QuantFormat.roundE4M3(1.0625f));                  // halfway between 1 and 1.125: even mantissa
    }

    @Test void int8HasZeroPointZeroAndSaturatesAsQuantizeLinear() {
        QuantFormat f = QuantFormat.INT8;
        float s = f.scaleFor(12.7);
        assertEquals(0.1f, s, 1e-7f);
        assertEquals(127f, f.quantize(100f, s));
        assertEquals(-128f, f.quantize(-100f, s));                            // QuantizeLinear's saturation
        assertEquals(2f, f.quantize(0.25f, s));                               // 2.5 rounds half to even
        assertEquals(1f, f.scaleFor(0), "an empty range gets a harmless scale");
        assertThrows(IllegalArgumentException.class, () -> QuantFormat.parse("int4"));
    }

    /** Per-channel weights: every dequantized element within half a step of its channel's scale. */
    @Test void weightsQuantizePerOutputChannel() {
        Random r = new Random(9);
        float[] d = new float[6 * 5 * 3 * 3];
        for (int i = 0; i < d.length; i++) d[i] = (float) (r.nextGaussian() * (1 + i / 45));   // channels of different size
        FloatTensor w = new FloatTensor(d, 6, 5, 3, 3);
        for (QuantFormat f : QuantFormat.values()) {
            WeightQuantizer.Quantized q = WeightQuantizer.quantize(w, f);
            FloatTensor back = q.dequantize();
            for (int c = 0; c < 6; c++) {
                double amax = 0;
                for (int i = 0; i < 45; i++) amax = Math.max(amax, Math.abs(d[c * 45 + i]));
                assertEquals(amax / f.maxValue(), q.scales()[c], 1e-6 * amax);
                for (int i = 0; i < 45; i++) {
                    double v = d[c * 45 + i], err = Math.abs(back.data()[c * 45 + i] - v);
                    // INT8: half a level; FP8: half a unit of the 3-bit mantissa, relative, or half the subnormal step
                    double bound = f == QuantFormat.INT8 ? q.scales()[c] / 2 * 1.0001
                            : Math.max(Math.abs(v) / 16, Math.scalb(1.0, -10) * q.scales()[c]) * 1.0001;
                    assertTrue(err <= bound, f + " channel " + c + " element " + i + ": error " + err + " > " + bound);
                }
            }
            assertTrue(back.relL2(w) > 0, f + " must round something");
        }
    }
}
