package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

import java.util.concurrent.CancellationException;

/**
 * A request to stop a restoration, from another thread. A restoration checks it, and whether its thread has been
 * interrupted (as {@code Future.cancel(true)} does), at every point where it can stop cleanly: before each stage of
 * each pass, after each sampling step's UNet evaluation, and between passes. When either is set it throws a
 * {@link CancellationException} naming where it stopped; the engine stays usable. An interrupt is left set on the
 * thread, for the caller to see.
 *
 * <p>A token cancels every restoration it is passed to, from the moment {@link #cancel()} is called: use a fresh one
 * per restoration that may be cancelled on its own.
 */
public final class Cancellation {
    private volatile boolean cancelled;

    /** Asks every restoration holding this token to stop at its next check. */
    public void cancel() { cancelled = true; }

    public boolean isCancelled() { return cancelled; }

    /**
     * Throws when {@code token} (may be null) was cancelled or the current thread is interrupted.
     *
     * @param where where the restoration is, for the message ("before pass 2 vae_encode")
     */
    public static void check(Cancellation token, String where) {
        boolean interrupted = Thread.currentThread().isInterrupted();
        if (interrupted || (token != null && token.cancelled)) {
            throw new CancellationException("restore cancelled " + where + " ("
                    + (interrupted ? "the thread was interrupted" : "cancel() was called") + ")");
        }
    }

    /**
     * An observer that checks {@code token} and the thread's interrupt before forwarding each event to {@code inner}
     * (which may be null). Restorer calls its observer at exactly the points where a restoration can stop.
     */
    public static Restorer.Observer guard(Cancellation token, Restorer.Observer inner) {
        Restorer.Observer next = inner == null ? new Restorer.Observer() { } : inner;
        return new Restorer.Observer() {
            @Override public void onPassStart(int pass, int maxPasses) {
                check(token, "before pass " + (pass + 1));
                next.onPassStart(pass, maxPasses);
            }

            @Override public void onStageStart(int pass, Stage stage) {
                check(token, "before pass " + (pass + 1) + " " + stage.key());
                next.onStageStart(pass, stage);
            }

            @Override public void onAssessment(int pass, BIQA.Result assessment) {
                next.onAssessment(pass, assessment);
            }

            @Override public void onConditioning(int pass, FloatTensor cConcat, FloatTensor cCrossattn, float[] sigmas) {
                next.onConditioning(pass, cConcat, cCrossattn, sigmas);
            }

            @Override public void onStep(int pass, int step, int steps, float sigma, float t, Ops ops, Tensor z, Tensor denoised) {
                check(token, "at pass " + (pass + 1) + " step " + (step + 1) + "/" + steps);
                next.onStep(pass, step, steps, sigma, t, ops, z, denoised);
            }

            @Override public void onPassEnd(int pass, Restorer.PassResult result) {
                check(token, "after pass " + (pass + 1));
                next.onPassEnd(pass, result);
            }

            @Override public void onTilingPlan(dev.autodir.pipeline.tiling.TilingPlan plan) {
                next.onTilingPlan(plan);
            }

            @Override public void onTile(int pass, String stage, int round, int rounds, int tile, int tiles) {
                check(token, "at pass " + (pass + 1) + " " + stage + " tile " + tile + "/" + tiles);
                next.onTile(pass, stage, round, rounds, tile, tiles);
            }
        };
    }
}
