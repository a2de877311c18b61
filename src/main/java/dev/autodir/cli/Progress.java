package dev.autodir.cli;

import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.ProgressEvent;
import dev.autodir.pipeline.ProgressListener;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.Stage;
import dev.autodir.pipeline.tiling.TilingPlan;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Progress of one image on stderr, one line at a time (it may go to a log file, so no carriage returns):
 * {@code noise.png: pass 1/7 [haze 0.83] step 40/100, about 12 s left in this pass}. At most one line per interval
 * for stage starts and steps, and a line when a pass ends or BIQA ends the loop. The estimate says "at least" while
 * it leaves out stages not timed yet (the decode and the SCM of the first pass), and is left out before anything
 * was timed.
 */
final class Progress implements Restorer.Observer, ProgressListener {
    private final PrintWriter err;
    private final String label;
    private final long intervalNanos;
    private long lastLine = System.nanoTime();
    private long passStart;
    private int maxPasses;
    private String tag = "";

    Progress(PrintWriter err, String label, long intervalMillis) {
        this.err = err;
        this.label = label;
        this.intervalNanos = intervalMillis * 1_000_000L;
    }

    @Override public void onPassStart(int pass, int maxPasses) {
        this.maxPasses = maxPasses;
        this.passStart = System.nanoTime();
        this.tag = "";
    }

    @Override public void onAssessment(int pass, BIQA.Result a) {
        tag = String.format(Locale.ROOT, " [%s %.2f]", a.main(), a.probability(a.mainIndex()));
        if (a.main().equals("no")) line(pass, "no degradation left, done");
    }

    @Override public void onProgress(ProgressEvent e) {
        if (e.kind() == ProgressEvent.Kind.PASS_END) return;                 // onPassEnd prints the pass's time
        if (e.stage() == Stage.PROMPT) tag = " [prompt]";
        if (System.nanoTime() - lastLine < intervalNanos) return;
        String what = switch (e.stage()) {
            case BIQA -> "assessing";
            case PROMPT -> "encoding the prompt";
            case VAE_ENCODE -> "vae encode";
            case SAMPLE -> e.kind() == ProgressEvent.Kind.STEP ? "step " + e.step() + "/" + e.steps() : "sampling";
            case VAE_DECODE -> "vae decode";
            case SCM -> "scm";
        };
        line(e.pass(), what + eta(e));
    }

    static String eta(ProgressEvent e) {
        if (Double.isNaN(e.passRemainingMs())) return "";
        return String.format(Locale.ROOT, ", %s %s left in this pass", e.estimateComplete() ? "about" : "at least",
                seconds(e.passRemainingMs()));
    }

    private static String seconds(double ms) {
        double s = ms / 1000;
        if (s < 10) return String.format(Locale.ROOT, "%.1f s", s);
        if (s < 120) return String.format(Locale.ROOT, "%.0f s", s);
        return String.format(Locale.ROOT, "%d min %02d s", (long) s / 60, (long) s % 60);
    }

    @Override public void onTilingPlan(TilingPlan plan) {
        if (plan.anyTiled()) {
            err.println(label + ": " + plan.summary());
            err.flush();
        }
    }

    /** One line per tile at most every interval: "step 3/100 tile 12/88" or "vae_decode sweep 5/31 tile 3/12". */
    @Override public void onTile(int pass, String stage, int round, int rounds, int tile, int tiles) {
        long now = System.nanoTime();
        if (now - lastLine < intervalNanos) return;
        String what = stage.equals("sample") ? "step " + (round + 1) + "/" + rounds : stage + " sweep " + (round + 1) + "/" + rounds;
        line(pass, what + " tile " + tile + "/" + tiles);
    }

    @Override public void onPassEnd(int pass, Restorer.PassResult result) {
        line(pass, String.format(Locale.ROOT, "done in %.1f s", (System.nanoTime() - passStart) / 1e9));
    }

    private void line(int pass, String what) {
        err.println(label + ": pass " + (pass + 1) + "/" + maxPasses + tag + " " + what);
        err.flush();
        lastLine = System.nanoTime();
    }
}
