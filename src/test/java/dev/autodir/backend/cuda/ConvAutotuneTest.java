package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The per-shape choice between cuDNN and im2col, without a GPU: the paths are recorders and the clock hands out
 * scripted times.
 */
class ConvAutotuneTest {
    private static final Convolution.Key UNET = new Convolution.Key(Precision.FP16, 2, 320, 64, 64, 320, 3, 3, 1, 1, 1);
    private static final Convolution.Key VAE = new Convolution.Key(Precision.FP16, 1, 128, 512, 512, 128, 3, 3, 1, 1, 1);

    private final List<String> calls = new ArrayList<>();
    private final Runnable cudnn = () -> calls.add("cudnn");
    private final Runnable im2col = () -> calls.add("im2col");

    /** Runs each timed body and returns the next scripted time for it: cuDNN's and im2col's alternate. */
    private static final class ScriptedClock implements ConvAutotune.Clock {
        private final double[] cudnnTimes, im2colTimes;
        private int next;
        int timed;
        boolean closed;

        ScriptedClock(double[] cudnnTimes, double[] im2colTimes) {
            this.cudnnTimes = cudnnTimes;
            this.im2colTimes = im2colTimes;
        }

        @Override
        public double millis(Runnable body) {
            body.run();
            timed++;
            int i = next++;
            return i % 2 == 0 ? cudnnTimes[i / 2] : im2colTimes[i / 2];
        }

        @Override
        public void close() { closed = true; }
    }

    @Test
    void timesANewShapeOnceAndKeepsTheFaster() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = new ScriptedClock(new double[] {0.30, 0.20, 0.25}, new double[] {0.12, 0.40, 0.10});
        assertEquals(ConvAutotune.Choice.IM2COL, tune.run(UNET, false, () -> clock, cudnn, im2col));
        // one warm-up each, three alternating timed pairs, then the chosen path once more for the output
        assertEquals(List.of("cudnn", "im2col", "cudnn", "im2col", "cudnn", "im2col", "cudnn", "im2col", "im2col"), calls);
        assertTrue(clock.closed && clock.timed == 2 * ConvAutotune.RUNS);
        ConvAutotune.Decision d = tune.decision(UNET);
        assertEquals(0.25, d.cudnnMillis(), 1e-12, "median of 0.30, 0.20, 0.25");
        assertEquals(0.12, d.im2colMillis(), 1e-12, "median of 0.12, 0.40, 0.10");

        calls.clear();
        assertEquals(ConvAutotune.Choice.IM2COL, tune.run(UNET, false, () -> { throw new AssertionError("timed twice"); }, cudnn, im2col));
        assertEquals(ConvAutotune.Choice.IM2COL, tune.run(UNET, true, () -> { throw new AssertionError("timed in a capture"); }, cudnn, im2col));
        assertEquals(List.of("im2col", "im2col"), calls, "a decided shape runs its path only, also inside a capture");
    }

    @Test
    void keepsCudnnWhenItIsFasterOrEqual() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = new ScriptedClock(new double[] {1.0, 1.0, 1.0}, new double[] {1.0, 1.0, 1.0});
        assertEquals(ConvAutotune.Choice.CUDNN, tune.run(VAE, false, () -> clock, cudnn, im2col));
        assertEquals("cudnn", calls.get(calls.size() - 1), "the output comes from the chosen path");
        String text = tune.describe();
        assertTrue(text.contains("B1 128x512x512 -> 128 k3x3 s1 p1 FP16") && text.contains("cuDNN (cuDNN 1.000 ms, im2col 1.000 ms)"), text);
    }

    @Test
    void aShapeFirstSeenInACaptureRunsCudnnUntimedAndIsNotRemembered() {
        ConvAutotune tune = new ConvAutotune();
        assertEquals(ConvAutotune.Choice.CUDNN, tune.run(UNET, true, () -> { throw new AssertionError("timed in a capture"); }, cudnn, im2col));
        assertEquals(List.of("cudnn"), calls);
        assertNull(tune.decision(UNET));
        assertEquals(0, tune.decided());
        ScriptedClock clock = new ScriptedClock(new double[] {0.5, 0.5, 0.5}, new double[] {0.2, 0.2, 0.2});
        assertEquals(ConvAutotune.Choice.IM2COL, tune.run(UNET, false, () -> clock, cudnn, im2col), "timed at its first eager use");
        assertEquals(1, tune.decided());
    }

    @Test
    void aFailingIm2colPathLeavesTheShapeOnCudnn() {
        ConvAutotune tune = new ConvAutotune();
        Runnable broken = () -> { throw new CudaException("cuBLASLt has no algorithm"); };
        ScriptedClock clock = new ScriptedClock(new double[] {1, 1, 1}, new double[] {0, 0, 0});
        assertEquals(ConvAutotune.Choice.CUDNN, tune.run(UNET, false, () -> clock, cudnn, broken));
        assertTrue(clock.closed, "the clock is closed after a failure");
        assertEquals(List.of("cudnn", "cudnn"), calls, "the warm-up, then cuDNN again for the output");
        assertTrue(tune.describe().contains("im2col failed: dev.autodir.backend.cuda.CudaException: cuBLASLt has no algorithm"), tune.describe());
    }

    @Test
    void aForcedChoiceSkipsTimingAndBookkeeping() {
        ConvAutotune tune = new ConvAutotune();
        tune.force(ConvAutotune.Choice.IM2COL);
        assertEquals(ConvAutotune.Choice.IM2COL, tune.run(UNET, false, () -> { throw new AssertionError("timed while forced"); }, cudnn, im2col));
        tune.force(ConvAutotune.Choice.CUDNN);
        assertEquals(ConvAutotune.Choice.CUDNN, tune.run(UNET, true, () -> { throw new AssertionError("timed while forced"); }, cudnn, im2col));
        assertEquals(List.of("im2col", "cudnn"), calls);
        assertEquals(0, tune.decided());
        assertTrue(tune.describe().startsWith("forced cuDNN"), tune.describe());
    }

    @Test
    void medianOfOddAndEvenCounts() {
        assertEquals(2.0, ConvAutotune.median(new double[] {3, 1, 2}), 0);
        assertEquals(2.5, ConvAutotune.median(new double[] {4, 1, 3, 2}), 0);
    }

    @Test
    void aCandidateThatDisagreesWithCudnnIsNeverChosenHoweverFast() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = new ScriptedClock(new double[] {1.0, 1.0, 1.0}, new double[] {0.1, 0.1, 0.1});
        assertEquals(ConvAutotune.Choice.CUDNN, tune.run(UNET, false, () -> clock, (r, c) -> 0.5, cudnn, im2col));
        assertTrue(tune.decision(UNET).note().contains("disagrees"), tune.decision(UNET).note());
        ConvAutotune nan = new ConvAutotune();
        assertEquals(ConvAutotune.Choice.CUDNN, nan.run(UNET, false, () -> clock, (r, c) -> Double.NaN, cudnn, im2col));
    }

    @Test
    void anAgreeingFasterCandidateIsChosen() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = new ScriptedClock(new double[] {1.0, 1.0, 1.0}, new double[] {0.1, 0.1, 0.1});
        int[] compared = {0};
        assertEquals(ConvAutotune.Choice.IM2COL, tune.run(UNET, false, () -> clock, (r, c) -> {
            compared[0]++;
            r.run();
            c.run();
            return 1e-3;
        }, cudnn, im2col));
        assertEquals(1, compared[0], "compared once");
    }
}
