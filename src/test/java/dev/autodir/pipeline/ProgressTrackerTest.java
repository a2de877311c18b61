package dev.autodir.pipeline;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The estimate of the time left in a pass, driven by a scripted clock (milliseconds). */
class ProgressTrackerTest {
    private long nowMs;
    private final List<ProgressEvent> events = new ArrayList<>();
    private final List<String> forwarded = new ArrayList<>();

    private ProgressTracker tracker() {
        Restorer.Observer inner = new Restorer.Observer() {
            @Override public void onStageStart(int pass, Stage stage) { forwarded.add("stage " + stage); }
            @Override public void onStep(int pass, int step, int steps, float sigma, float t, dev.autodir.backend.Ops ops,
                                         dev.autodir.backend.Tensor z, dev.autodir.backend.Tensor denoised) { forwarded.add("step " + step); }
        };
        return new ProgressTracker(events::add, inner, 4, () -> nowMs * 1_000_000L);
    }

    /** One pass: BIQA b ms, encode e ms, 4 steps of s ms each, decode d ms, SCM c ms. */
    private void pass(ProgressTracker t, int pass, long b, long e, long s, long d, long c) {
        t.onPassStart(pass, 3);
        t.onStageStart(pass, Stage.BIQA);
        nowMs += b;
        t.onStageStart(pass, Stage.VAE_ENCODE);
        nowMs += e;
        t.onStageStart(pass, Stage.SAMPLE);
        for (int i = 0; i < 4; i++) {
            nowMs += s;
            t.onStep(pass, i, 4, 1f, 1f, null, null, null);
        }
        nowMs += 0;
        t.onStageStart(pass, Stage.VAE_DECODE);
        nowMs += d;
        t.onStageStart(pass, Stage.SCM);
        nowMs += c;
        t.onPassEnd(pass, null);
    }

    private ProgressEvent event(int pass, ProgressEvent.Kind kind, Stage stage, int step) {
        return events.stream().filter(e -> e.pass() == pass && e.kind() == kind && e.stage() == stage && e.step() == step).findFirst()
                .orElseThrow(() -> new AssertionError("no event " + pass + " " + kind + " " + stage + " " + step + " in " + events));
    }

    @Test
    void theFirstPassEstimatesTheStepsLeftOnlyAndLaterPassesEverything() {
        ProgressTracker t = tracker();
        pass(t, 0, 10, 20, 100, 50, 30);
        ProgressEvent start = event(0, ProgressEvent.Kind.STAGE_START, Stage.BIQA, 0);
        assertTrue(Double.isNaN(start.passRemainingMs()) && !start.estimateComplete(), "nothing timed yet: " + start);
        ProgressEvent step1 = event(0, ProgressEvent.Kind.STEP, Stage.SAMPLE, 1);
        assertEquals(300, step1.passRemainingMs(), 1e-9, "3 steps of 100 ms left; decode and SCM not timed yet");
        assertFalse(step1.estimateComplete());
        assertEquals(130, event(0, ProgressEvent.Kind.STEP, Stage.SAMPLE, 1).elapsedMs(), 1e-9);

        pass(t, 1, 8, 20, 90, 50, 30);
        // pass 1 begins: everything is known from pass 0: BIQA 10 + encode 20 + 4 x 100 + decode 50 + SCM 30
        ProgressEvent p1 = event(1, ProgressEvent.Kind.STAGE_START, Stage.BIQA, 0);
        assertEquals(510, p1.passRemainingMs(), 1e-9);
        assertTrue(p1.estimateComplete());
        // after 2 steps of pass 1 (90 ms each): 2 x 90 + 50 + 30
        ProgressEvent s2 = event(1, ProgressEvent.Kind.STEP, Stage.SAMPLE, 2);
        assertEquals(260, s2.passRemainingMs(), 1e-9);
        // at the SCM's start: what the SCM took in pass 0
        assertEquals(30, event(1, ProgressEvent.Kind.STAGE_START, Stage.SCM, 4).passRemainingMs(), 1e-9);
        assertEquals(0, event(1, ProgressEvent.Kind.PASS_END, Stage.SCM, 4).passRemainingMs(), 1e-9);
        // every event went on to the inner observer
        assertEquals(2 * 9, forwarded.size(), forwarded.toString());
    }
}
