package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Turns a restoration's observer events into {@link ProgressEvent}s with an estimate of the time left in the pass,
 * then forwards every event to an inner observer.
 *
 * <p>The estimate: the sampling steps left times the mean step time so far (of this pass, or of the previous one
 * before this pass's first step), plus, for each stage still to come, its duration in the previous pass (the same
 * image size, so the same work; BIQA scores one class fewer). In the first pass nothing after sampling has been
 * timed yet: the estimate leaves those stages out and says so ({@link ProgressEvent#estimateComplete()}).
 */
public final class ProgressTracker implements Restorer.Observer {
    private static final List<Stage> AFTER_CONDITIONING = List.of(Stage.VAE_ENCODE, Stage.SAMPLE, Stage.VAE_DECODE, Stage.SCM);

    private final ProgressListener listener;
    private final Restorer.Observer inner;
    private final LongSupplier clock;
    private final long start;

    private final Map<Stage, Double> previousMs = new EnumMap<>(Stage.class);
    private final Map<Stage, Double> currentMs = new EnumMap<>(Stage.class);
    private double previousStepMs = Double.NaN;
    private int maxPasses, steps, stepsDone;
    private Stage stage;
    private long stageStart, lastStep;
    private double stepSumMs;

    /**
     * @param listener may be null (then only the inner observer sees events)
     * @param inner    may be null
     * @param steps    sampling steps per pass
     */
    public ProgressTracker(ProgressListener listener, Restorer.Observer inner, int steps) {
        this(listener, inner, steps, System::nanoTime);
    }

    ProgressTracker(ProgressListener listener, Restorer.Observer inner, int steps, LongSupplier nanoClock) {
        this.listener = listener;
        this.steps = steps;
        this.inner = inner == null ? new Restorer.Observer() { } : inner;
        this.clock = nanoClock;
        this.start = nanoClock.getAsLong();
    }

    @Override public void onPassStart(int pass, int maxPasses) {
        this.maxPasses = maxPasses;
        if (!currentMs.isEmpty()) {
            previousMs.clear();
            previousMs.putAll(currentMs);
        }
        currentMs.clear();
        stage = null;
        stepsDone = 0;
        stepSumMs = 0;
        inner.onPassStart(pass, maxPasses);
    }

    @Override public void onStageStart(int pass, Stage next) {
        long now = clock.getAsLong();
        endStage(now);
        stage = next;
        stageStart = now;
        lastStep = now;
        emit(ProgressEvent.Kind.STAGE_START, pass, now);
        inner.onStageStart(pass, next);
    }

    @Override public void onAssessment(int pass, BIQA.Result assessment) { inner.onAssessment(pass, assessment); }

    @Override public void onConditioning(int pass, FloatTensor cConcat, FloatTensor cCrossattn, float[] sigmas) {
        steps = sigmas.length - 1;
        inner.onConditioning(pass, cConcat, cCrossattn, sigmas);
    }

    @Override public void onStep(int pass, int step, int steps, float sigma, float t, Ops ops, Tensor z, Tensor denoised) {
        long now = clock.getAsLong();
        this.steps = steps;
        stepsDone = step + 1;
        stepSumMs += (now - lastStep) / 1e6;
        lastStep = now;
        emit(ProgressEvent.Kind.STEP, pass, now);
        inner.onStep(pass, step, steps, sigma, t, ops, z, denoised);
    }

    @Override public void onTilingPlan(dev.autodir.pipeline.tiling.TilingPlan plan) { inner.onTilingPlan(plan); }

    @Override public void onTile(int pass, String stage, int round, int rounds, int tile, int tiles) {
        inner.onTile(pass, stage, round, rounds, tile, tiles);
    }

    @Override public void onPassEnd(int pass, Restorer.PassResult result) {
        long now = clock.getAsLong();
        endStage(now);
        stage = Stage.SCM;
        if (stepsDone > 0) previousStepMs = stepSumMs / stepsDone;
        if (listener != null) {
            listener.onProgress(new ProgressEvent(ProgressEvent.Kind.PASS_END, pass, maxPasses, Stage.SCM, steps, steps,
                    (now - start) / 1e6, 0, true));
        }
        inner.onPassEnd(pass, result);
    }

    private void endStage(long now) {
        if (stage != null) currentMs.put(stage, (now - stageStart) / 1e6);
    }

    private void emit(ProgressEvent.Kind kind, int pass, long now) {
        if (listener == null) return;
        double[] eta = remaining(now);
        int done = stage == Stage.SAMPLE ? stepsDone : isPast(Stage.SAMPLE, stage) ? steps : 0;
        listener.onProgress(new ProgressEvent(kind, pass, maxPasses, stage, done, steps, (now - start) / 1e6, eta[0], eta[1] == 1));
    }

    /** {estimate ms (NaN when nothing is known), 1 when every stage left was timed before else 0}. */
    private double[] remaining(long now) {
        double total = 0;
        boolean known = false, complete = true;
        for (Stage s : AFTER_CONDITIONING) {
            if (isPast(s, stage)) continue;
            double ms;
            if (s == Stage.SAMPLE) {
                double perStep = stepsDone > 0 && stage == Stage.SAMPLE ? stepSumMs / stepsDone : previousStepMs;
                int left = stage == Stage.SAMPLE ? steps - stepsDone : steps;
                ms = left == 0 ? 0 : left * perStep;
            } else {
                Double before = previousMs.get(s);
                ms = before == null ? Double.NaN : s == stage ? Math.max(0, before - (now - stageStart) / 1e6) : before;
            }
            if (Double.isNaN(ms)) {
                complete = false;
            } else {
                total += ms;
                known = true;
            }
        }
        if (stage == Stage.BIQA || stage == Stage.PROMPT) {
            Double before = previousMs.get(stage);
            if (before != null) total += Math.max(0, before - (now - stageStart) / 1e6);
            else complete = false;
        }
        return new double[] {known ? total : Double.NaN, complete && known ? 1 : 0};
    }

    /** Whether stage {@code s} is done when {@code current} runs (it comes earlier in a pass). */
    private static boolean isPast(Stage s, Stage current) {
        return current != null && current.ordinal() > s.ordinal();
    }
}
