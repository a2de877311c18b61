package dev.autodir.pipeline;

import java.util.Arrays;

/**
 * The wall time of each sampling step of a pass: lap i runs from the end of step i−1's model evaluation (from the
 * start of sampling for i = 0) to the end of step i's, so it holds one sampler update and one model evaluation.
 * Times are what the host sees: on a device backend, whose launches are asynchronous, a step's work may finish
 * during a later lap, while the sum stays the sampling time.
 */
final class StepClock {
    private final double[] laps;
    private int count;
    private long last = System.nanoTime();

    StepClock(int steps) { laps = new double[steps]; }

    void lap() {
        long now = System.nanoTime();
        if (count < laps.length) laps[count++] = (now - last) / 1e6;
        last = now;
    }

    double[] laps() { return Arrays.copyOf(laps, count); }
}
