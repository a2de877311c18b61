package dev.autodir.pipeline;

import dev.autodir.model.ScheduleConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KDiffusionScheduleTest {
    final KDiffusionSchedule s = new KDiffusionSchedule(ScheduleConfig.official());

    @Test void sigmasEndInZeroAndDecrease() {
        float[] sig = s.getSigmas(20);
        assertEquals(21, sig.length);
        assertEquals(0f, sig[20]);
        for (int i = 1; i < 20; i++) assertTrue(sig[i] < sig[i - 1], "sigma " + i);
        assertEquals(s.sigmaMax(), sig[0], 1e-6 * s.sigmaMax());
        assertEquals(s.sigmaMin(), sig[19], 1e-6);
        // SD-1.5 schedule: sigma_max ≈ 14.6146, sigma_min ≈ 0.0292
        assertEquals(14.6146, s.sigmaMax(), 1e-3);
        assertEquals(0.02916, s.sigmaMin(), 1e-4);
    }

    @Test void sigmaToTInvertsTToSigma() {
        for (float t : new float[] {0f, 0.25f, 17.5f, 500.75f, 998.9f, 999f}) {
            float back = s.sigmaToT(s.tToSigma(t));
            assertEquals(t, back, 2e-3, "t " + t);
        }
    }

    @Test void ancestralStepSplitsTheVariance() {
        float[] du = EulerAncestralSampler.ancestralStep(5f, 2f);
        assertEquals(4f, du[0] * du[0] + du[1] * du[1], 1e-5);               // down² + up² = next²
        float[] last = EulerAncestralSampler.ancestralStep(0.5f, 0f);
        assertEquals(0f, last[0]);
        assertEquals(0f, last[1]);
    }

    @Test void rejectsNonsense() {
        assertThrows(IllegalArgumentException.class, () -> s.getSigmas(0));
    }
}
