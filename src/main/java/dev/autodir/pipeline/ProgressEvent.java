package dev.autodir.pipeline;

/**
 * Where a restoration is, with an estimate of the time left in the current pass.
 *
 * @param kind             a stage begins, a sampling step ended, or a pass ended
 * @param pass             the pass, counting from 0
 * @param maxPasses        the most passes this restoration can run (automatic mode stops earlier when BIQA finds no
 *                         degradation)
 * @param stage            the stage running (the last one, SCM, at the end of a pass)
 * @param step             sampling steps done in this pass (0 before sampling, {@code steps} after it)
 * @param steps            sampling steps per pass
 * @param elapsedMs        wall time since the restoration began
 * @param passRemainingMs  estimated wall time left in this pass; NaN while nothing has been timed yet
 * @param estimateComplete false while the estimate leaves out stages not yet timed (in the first pass: every stage
 *                         after sampling), so that it is a lower bound
 */
public record ProgressEvent(Kind kind, int pass, int maxPasses, Stage stage, int step, int steps, double elapsedMs,
                            double passRemainingMs, boolean estimateComplete) {
    public enum Kind { STAGE_START, STEP, PASS_END }
}
