package dev.autodir.quant;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ActivationStatsTest {
    /** The percentile is exact to one bin of the final range, however the range grew (rebinning) across calls. */
    @Test void percentileWithinOneBinOfTheExactQuantile() {
        Random r = new Random(4);
        ActivationStats s = new ActivationStats();
        float[] all = new float[0];
        for (int call = 0; call < 6; call++) {
            float[] v = new float[5000];
            double spread = Math.pow(3, call);                     // later calls are wider: the range doubles several times
            for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * spread);
            s.add(v, 0);
            float[] both = Arrays.copyOf(all, all.length + v.length);
            System.arraycopy(v, 0, both, all.length, v.length);
            all = both;
        }
        double[] abs = new double[all.length];
        for (int i = 0; i < all.length; i++) abs[i] = Math.abs(all[i]);
        Arrays.sort(abs);
        assertEquals(abs[abs.length - 1], s.amax(), 0);
        for (double p : new double[] {0.5, 0.9, 0.999}) {
            double exact = abs[(int) Math.ceil(p * abs.length) - 1];
            double bin = s.amax() * 2.0000001 / ActivationStats.BINS * 2;    // the range is < 2·amax after doubling
            double got = s.percentile(p);
            assertTrue(Math.abs(got - exact) <= bin, "p " + p + ": " + got + " vs exact " + exact + " (bin " + bin + ")");
        }
        assertEquals(s.amax(), s.percentile(1.0), 0);
        assertEquals(all.length, s.count());
    }

    @Test void channelMaximaAndNonFiniteValues() {
        ActivationStats s = new ActivationStats();
        s.add(new float[] {1, -5, 2, 0.5f, 3, -1}, 3);           // rows [1, -5, 2], [0.5, 3, -1]
        s.add(new float[] {-4, 0, Float.NaN}, 3);
        assertEquals(Arrays.toString(new double[] {4, 5, 2}), Arrays.toString(s.channelAmax()));
        assertEquals(1, s.nonFinite());
        assertEquals(5, s.amax(), 0);
    }
}
