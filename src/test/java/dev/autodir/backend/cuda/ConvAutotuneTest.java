package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.backend.cuda.ConvAutotune.Choice;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The per-shape choice between cuDNN (the reference) and the candidates im2col and cuDNN-graph, without a GPU: the
 * paths are recorders and the clock hands out scripted times per path.
 */
class ConvAutotuneTest {
    private static final Convolution.Key UNET = new Convolution.Key(Precision.FP16, 2, 320, 64, 64, 320, 3, 3, 1, 1, 1);
    private static final Convolution.Key VAE = new Convolution.Key(Precision.FP16, 1, 128, 512, 512, 128, 3, 3, 1, 1, 1);

    private final List<String> calls = new ArrayList<>();
    private final List<String> planned = new ArrayList<>();
    private final Runnable cudnn = () -> calls.add("cudnn");
    private final Runnable im2col = () -> calls.add("im2col");
    private final Runnable graph = () -> calls.add("graph");

    /** Runs each timed body and returns the next scripted time of the path it ran (the name it recorded last). */
    private final class ScriptedClock implements ConvAutotune.Clock {
        private final Map<String, double[]> times = new HashMap<>();
        private final Map<String, Integer> next = new HashMap<>();
        int timed;
        boolean closed;

        ScriptedClock path(String name, double... t) {
            times.put(name, t);
            return this;
        }

        @Override
        public double millis(Runnable body) {
            body.run();
            timed++;
            String name = calls.get(calls.size() - 1);
            int i = next.merge(name, 1, Integer::sum) - 1;
            return times.get(name)[i];
        }

        @Override
        public void close() { closed = true; }
    }

    private ScriptedClock clock(double[] cudnnTimes, double[] im2colTimes) {
        return new ScriptedClock().path("cudnn", cudnnTimes).path("im2col", im2colTimes);
    }

    /** A candidate whose planning is recorded under {@code name} and which runs {@code body}. */
    private Supplier<Runnable> planned(String name, Runnable body) {
        return () -> {
            planned.add(name);
            return body;
        };
    }

    private Map<Choice, Supplier<Runnable>> im2colOnly(Runnable body) {
        Map<Choice, Supplier<Runnable>> m = new EnumMap<>(Choice.class);
        m.put(Choice.IM2COL, planned("im2col", body));
        return m;
    }

    private Map<Choice, Supplier<Runnable>> both(Runnable im2colBody, Runnable graphBody) {
        Map<Choice, Supplier<Runnable>> m = im2colOnly(im2colBody);
        m.put(Choice.GRAPH, planned("graph", graphBody));
        return m;
    }

    private static Supplier<ConvAutotune.Clock> never(String why) {
        return () -> { throw new AssertionError(why); };
    }

    // ---- two paths (cuDNN and im2col), as before the graph candidate ---------------------------------

    @Test
    void timesANewShapeOnceAndKeepsTheFaster() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = clock(new double[] {0.30, 0.20, 0.25}, new double[] {0.12, 0.40, 0.10});
        assertEquals(Choice.IM2COL, tune.run(UNET, false, () -> clock, null, cudnn, im2colOnly(im2col)));
        // one warm-up each, three alternating timed pairs, then the chosen path once more for the output
        assertEquals(List.of("cudnn", "im2col", "cudnn", "im2col", "cudnn", "im2col", "cudnn", "im2col", "im2col"), calls);
        assertTrue(clock.closed && clock.timed == 2 * ConvAutotune.RUNS);
        ConvAutotune.Decision d = tune.decision(UNET);
        assertEquals(0.25, d.millis(Choice.CUDNN), 1e-12, "median of 0.30, 0.20, 0.25");
        assertEquals(0.12, d.millis(Choice.IM2COL), 1e-12, "median of 0.12, 0.40, 0.10");
        assertTrue(Double.isNaN(d.millis(Choice.GRAPH)), "not offered, not timed");

        calls.clear();
        assertEquals(Choice.IM2COL, tune.run(UNET, false, never("timed twice"), null, cudnn, im2colOnly(im2col)));
        assertEquals(Choice.IM2COL, tune.run(UNET, true, never("timed in a capture"), null, cudnn, im2colOnly(im2col)));
        assertEquals(List.of("im2col", "im2col"), calls, "a decided shape runs its path only, also inside a capture");
    }

    @Test
    void keepsCudnnWhenItIsFasterOrEqual() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = clock(new double[] {1.0, 1.0, 1.0}, new double[] {1.0, 1.0, 1.0});
        assertEquals(Choice.CUDNN, tune.run(VAE, false, () -> clock, null, cudnn, im2colOnly(im2col)));
        assertEquals("cudnn", calls.get(calls.size() - 1), "the output comes from the chosen path");
        String text = tune.describe();
        assertTrue(text.contains("B1 128x512x512 -> 128 k3x3 s1 p1 FP16") && text.contains("cuDNN (cuDNN 1.000 ms, im2col 1.000 ms)"), text);
    }

    @Test
    void aShapeFirstSeenInACaptureRunsCudnnUntimedAndIsNotRemembered() {
        ConvAutotune tune = new ConvAutotune();
        assertEquals(Choice.CUDNN, tune.run(UNET, true, never("timed in a capture"), null, cudnn, both(im2col, graph)));
        assertEquals(List.of("cudnn"), calls);
        assertEquals(List.of(), planned, "nothing is planned inside a capture");
        assertNull(tune.decision(UNET));
        assertEquals(0, tune.decided());
        ScriptedClock clock = clock(new double[] {0.5, 0.5, 0.5}, new double[] {0.2, 0.2, 0.2});
        assertEquals(Choice.IM2COL, tune.run(UNET, false, () -> clock, null, cudnn, im2colOnly(im2col)), "timed at its first eager use");
        assertEquals(1, tune.decided());
    }

    @Test
    void aFailingIm2colPathLeavesTheShapeOnCudnn() {
        ConvAutotune tune = new ConvAutotune();
        Runnable broken = () -> { throw new CudaException("cuBLASLt has no algorithm"); };
        ScriptedClock clock = clock(new double[] {1, 1, 1}, new double[] {0, 0, 0});
        assertEquals(Choice.CUDNN, tune.run(UNET, false, () -> clock, null, cudnn, im2colOnly(broken)));
        assertTrue(clock.closed, "the clock is closed after a failure");
        assertEquals(List.of("cudnn", "cudnn"), calls, "the warm-up, then cuDNN again for the output (nothing left to time)");
        assertTrue(tune.describe().contains("cuDNN (im2col failed: dev.autodir.backend.cuda.CudaException: cuBLASLt has no algorithm)"),
                tune.describe());
    }

    @Test
    void medianOfOddAndEvenCounts() {
        assertEquals(2.0, ConvAutotune.median(new double[] {3, 1, 2}), 0);
        assertEquals(2.5, ConvAutotune.median(new double[] {4, 1, 3, 2}), 0);
    }

    @Test
    void aCandidateThatDisagreesWithCudnnIsNeverChosenHoweverFast() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = clock(new double[] {1.0, 1.0, 1.0}, new double[] {0.1, 0.1, 0.1});
        assertEquals(Choice.CUDNN, tune.run(UNET, false, () -> clock, (r, c) -> 0.5, cudnn, im2colOnly(im2col)));
        assertTrue(tune.decision(UNET).note().contains("im2col disagrees with cuDNN: rel-L2 5.000e-01"), tune.decision(UNET).note());
        assertEquals(0, clock.timed, "a lone disagreeing candidate leaves nothing to time");
        ConvAutotune nan = new ConvAutotune();
        assertEquals(Choice.CUDNN, nan.run(UNET, false, () -> clock, (r, c) -> Double.NaN, cudnn, im2colOnly(im2col)));
    }

    @Test
    void anAgreeingFasterCandidateIsChosen() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = clock(new double[] {1.0, 1.0, 1.0}, new double[] {0.1, 0.1, 0.1});
        int[] compared = {0};
        assertEquals(Choice.IM2COL, tune.run(UNET, false, () -> clock, (r, c) -> {
            compared[0]++;
            r.run();
            c.run();
            return 1e-3;
        }, cudnn, im2colOnly(im2col)));
        assertEquals(1, compared[0], "compared once");
    }

    // ---- three paths ------------------------------------------------------------------------------

    @Test
    void threeWayChoiceTimesEverySurvivorAlternatelyAndTakesTheFastest() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = new ScriptedClock().path("cudnn", 0.24, 0.25, 0.26).path("im2col", 0.15, 0.14, 0.16)
                .path("graph", 0.07, 0.06, 0.08);
        assertEquals(Choice.GRAPH, tune.run(UNET, false, () -> clock, null, cudnn, both(im2col, graph)));
        assertEquals(List.of("cudnn", "im2col", "graph",                  // warm-ups: the reference, then each candidate
                "cudnn", "im2col", "graph", "cudnn", "im2col", "graph", "cudnn", "im2col", "graph",   // three timed rounds
                "graph"), calls);                                             // the output from the winner
        assertEquals(3 * ConvAutotune.RUNS, clock.timed);
        ConvAutotune.Decision d = tune.decision(UNET);
        assertEquals(0.25, d.millis(Choice.CUDNN), 1e-12);
        assertEquals(0.15, d.millis(Choice.IM2COL), 1e-12);
        assertEquals(0.07, d.millis(Choice.GRAPH), 1e-12);
        assertEquals("", d.note());
        String text = tune.describe();
        assertTrue(text.contains("cuDNN-graph (cuDNN 0.250 ms, im2col 0.150 ms, cuDNN-graph 0.070 ms)"), text);

        calls.clear();
        planned.clear();
        assertEquals(Choice.GRAPH, tune.run(UNET, true, never("timed in a capture"), null, cudnn, both(im2col, graph)));
        assertEquals(List.of("graph"), calls);
        assertEquals(List.of("graph"), planned, "only the remembered candidate is (re)planned; its plan is cached by its owner");
    }

    @Test
    void threeWayChoiceCanKeepIm2colOrCudnn() {
        ConvAutotune first = new ConvAutotune();
        ScriptedClock clock = new ScriptedClock().path("cudnn", 0.3, 0.3, 0.3).path("im2col", 0.1, 0.1, 0.1).path("graph", 0.2, 0.2, 0.2);
        assertEquals(Choice.IM2COL, first.run(UNET, false, () -> clock, null, cudnn, both(im2col, graph)));
        assertEquals("im2col", calls.get(calls.size() - 1));

        ConvAutotune second = new ConvAutotune();
        ScriptedClock tie = new ScriptedClock().path("cudnn", 0.2, 0.2, 0.2).path("im2col", 0.2, 0.2, 0.2).path("graph", 0.2, 0.2, 0.2);
        assertEquals(Choice.CUDNN, second.run(UNET, false, () -> tie, null, cudnn, both(im2col, graph)), "ties stay with the reference");

        ConvAutotune third = new ConvAutotune();
        ScriptedClock candidatesTie = new ScriptedClock().path("cudnn", 0.5, 0.5, 0.5).path("im2col", 0.2, 0.2, 0.2)
                .path("graph", 0.2, 0.2, 0.2);
        assertEquals(Choice.IM2COL, third.run(UNET, false, () -> candidatesTie, null, cudnn, both(im2col, graph)),
                "between equal candidates the earlier (im2col) stays");
    }

    @Test
    void aCandidateFailingWhilePlannedIsExcludedAndTheOtherStillCompetes() {
        ConvAutotune tune = new ConvAutotune();
        Map<Choice, Supplier<Runnable>> candidates = im2colOnly(im2col);
        candidates.put(Choice.GRAPH, () -> { throw new CudaException("cudnnBackendFinalize(operation graph)", 3000, "CUDNN_STATUS_NOT_SUPPORTED"); });
        ScriptedClock clock = new ScriptedClock().path("cudnn", 0.3, 0.3, 0.3).path("im2col", 0.2, 0.2, 0.2);
        assertEquals(Choice.IM2COL, tune.run(UNET, false, () -> clock, (r, c) -> 0.0, cudnn, candidates));
        ConvAutotune.Decision d = tune.decision(UNET);
        assertTrue(Double.isNaN(d.millis(Choice.GRAPH)));
        assertTrue(d.note().startsWith("cuDNN-graph failed: dev.autodir.backend.cuda.CudaException: cudnnBackendFinalize(operation graph) failed"),
                d.note());
        assertTrue(tune.describe().contains("im2col (cuDNN 0.300 ms, im2col 0.200 ms; cuDNN-graph failed:"), tune.describe());
    }

    @Test
    void aCandidateFailingWhileTimedIsExcludedAndTheOthersFinish() {
        ConvAutotune tune = new ConvAutotune();
        int[] graphRuns = {0};
        Runnable flaky = () -> {
            if (++graphRuns[0] == 3) throw new CudaException("cudnnBackendExecute", 4000, "CUDNN_STATUS_EXECUTION_FAILED");
            calls.add("graph");
        };
        ScriptedClock clock = new ScriptedClock().path("cudnn", 0.3, 0.3, 0.3).path("im2col", 0.2, 0.25, 0.2).path("graph", 0.01, 0.01, 0.01);
        assertEquals(Choice.IM2COL, tune.run(UNET, false, () -> clock, null, cudnn, both(im2col, flaky)));
        assertTrue(clock.closed);
        ConvAutotune.Decision d = tune.decision(UNET);
        assertEquals(0.2, d.millis(Choice.IM2COL), 1e-12, "im2col timed in every round");
        assertTrue(Double.isNaN(d.millis(Choice.GRAPH)), "the failed candidate's partial times are dropped");
        assertTrue(d.note().contains("cuDNN-graph failed while timed"), d.note());
        assertEquals(List.of("cudnn", "im2col", "graph", "cudnn", "im2col", "graph", "cudnn", "im2col", "cudnn", "im2col", "im2col"), calls,
                "after the failure (warm-up 1, timed run 2 ran; run 3 threw) the rounds go on without it");
    }

    @Test
    void aDisagreeingCandidateIsExcludedWhileAnAgreeingOneIsTimed() {
        ConvAutotune tune = new ConvAutotune();
        List<String> compared = new ArrayList<>();
        ConvAutotune.Comparison comparison = (r, c) -> {
            r.run();
            c.run();
            String who = calls.get(calls.size() - 1);
            compared.add(who);
            return who.equals("graph") ? 0.3 : 4e-4;
        };
        ScriptedClock clock = new ScriptedClock().path("cudnn", 0.3, 0.3, 0.3).path("im2col", 0.2, 0.2, 0.2);
        assertEquals(Choice.IM2COL, tune.run(UNET, false, () -> clock, comparison, cudnn, both(im2col, graph)));
        assertEquals(List.of("im2col", "graph"), compared, "each candidate compared once with the reference");
        assertEquals(2 * ConvAutotune.RUNS, clock.timed, "the disagreeing graph path is never timed");
        assertTrue(tune.decision(UNET).note().contains("cuDNN-graph disagrees with cuDNN: rel-L2 3.000e-01"), tune.decision(UNET).note());
    }

    @Test
    void aCandidateThatDeclinesWhilePlanningIsSimplyNotOffered() {
        ConvAutotune tune = new ConvAutotune();
        Map<Choice, Supplier<Runnable>> candidates = im2colOnly(im2col);
        candidates.put(Choice.GRAPH, () -> null);
        ScriptedClock clock = clock(new double[] {0.3, 0.3, 0.3}, new double[] {0.4, 0.4, 0.4});
        assertEquals(Choice.CUDNN, tune.run(UNET, false, () -> clock, null, cudnn, candidates));
        assertEquals("", tune.decision(UNET).note());
        assertFalse(tune.describe().contains("cuDNN-graph"), tune.describe());
    }

    @Test
    void aRememberedCandidateNotOfferedLaterGivesWayToCudnn() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = new ScriptedClock().path("cudnn", 0.3, 0.3, 0.3).path("graph", 0.1, 0.1, 0.1);
        Map<Choice, Supplier<Runnable>> graphOnly = new EnumMap<>(Choice.class);
        graphOnly.put(Choice.GRAPH, planned("graph", graph));
        assertEquals(Choice.GRAPH, tune.run(UNET, false, () -> clock, null, cudnn, graphOnly));
        calls.clear();
        assertEquals(Choice.CUDNN, tune.run(UNET, false, never("timed again"), null, cudnn, im2colOnly(im2col)),
                "graph decided, but this call offers only im2col (say an unaligned view)");
        assertEquals(List.of("cudnn"), calls);
        assertEquals(Choice.GRAPH, tune.decision(UNET).choice(), "the decision itself is kept");
    }

    @Test
    void aForcedChoiceSkipsTimingAndBookkeeping() {
        ConvAutotune tune = new ConvAutotune();
        tune.force(Choice.IM2COL);
        assertEquals(Choice.IM2COL, tune.run(UNET, false, never("timed while forced"), null, cudnn, both(im2col, graph)));
        assertEquals(List.of("im2col"), planned, "only the forced candidate is planned");
        tune.force(Choice.GRAPH);
        assertEquals(Choice.GRAPH, tune.run(UNET, true, never("timed while forced"), null, cudnn, both(im2col, graph)));
        tune.force(Choice.CUDNN);
        assertEquals(Choice.CUDNN, tune.run(UNET, true, never("timed while forced"), null, cudnn, both(im2col, graph)));
        assertEquals(List.of("im2col", "graph", "cudnn"), calls);
        assertEquals(List.of("im2col", "graph"), planned);
        assertEquals(0, tune.decided());
        assertTrue(tune.describe().startsWith("forced cuDNN for every shape"), tune.describe());
        tune.force(Choice.GRAPH);
        assertTrue(tune.describe().startsWith("forced cuDNN-graph for every shape"), tune.describe());
    }

    @Test
    void aForcedCandidateThatIsNotOfferedThrows() {
        ConvAutotune tune = new ConvAutotune();
        tune.force(Choice.GRAPH);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> tune.run(UNET, false, never("timed while forced"), null, cudnn, im2colOnly(im2col)));
        assertTrue(e.getMessage().contains("cuDNN-graph is forced but not offered") && e.getMessage().contains("B2 320x64x64 -> 320"), e.getMessage());
        assertEquals(List.of(), calls, "nothing ran");
    }

    @Test
    void aFailingReferenceIsTheCallersFailureAndNothingIsRemembered() {
        ConvAutotune tune = new ConvAutotune();
        ScriptedClock clock = clock(new double[] {1, 1, 1}, new double[] {1, 1, 1});
        Runnable broken = () -> { throw new CudaException("cudnnConvolutionForward", 3000, "CUDNN_STATUS_NOT_SUPPORTED"); };
        CudaException e = assertThrows(CudaException.class, () -> tune.run(UNET, false, () -> clock, null, broken, both(im2col, graph)));
        assertEquals("cudnnConvolutionForward", e.call());
        assertTrue(clock.closed);
        assertEquals(0, tune.decided());
    }
}
