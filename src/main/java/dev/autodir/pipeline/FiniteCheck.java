package dev.autodir.pipeline;

import dev.autodir.tensor.FloatTensor;

import java.util.Arrays;
import java.util.Locale;

/**
 * Stops a restoration at the first stage whose output holds NaN or infinity. One NaN weight in the UNet or the
 * VAE decoder makes every later value NaN, which quantises to an all-black image: without this check it was
 * written with exit status 0, and BIQA went on choosing classes from NaN probabilities. The check is one pass
 * over a stage's downloaded output (a few reads per element, against the thousands of operations per element
 * the network spent making it), so it always runs.
 */
public final class FiniteCheck {
    private FiniteCheck() { }

    /** Returns {@code t} when every value is finite; else throws naming the stage, the first bad index and the count. */
    public static FloatTensor check(String stage, FloatTensor t) {
        float[] d = t.data();
        int first = -1;
        for (int i = 0; i < d.length; i++) {
            if (!Float.isFinite(d[i])) { first = i; break; } // NaN and ±inf alike
        }
        if (first < 0) return t;
        long bad = 0;
        for (int i = first; i < d.length; i++) if (!Float.isFinite(d[i])) bad++;
        throw new NonFiniteException(String.format(Locale.ROOT,
                "%s produced %s (%d of %d values of %s, the first at index %d): the weights or the input hold"
                        + " non-finite values (check with 'autodir inspect --scan'); stopping this image, nothing written",
                stage, Float.isNaN(d[first]) ? "NaN" : "infinity", bad, d.length, Arrays.toString(t.shape()), first));
    }

    /** BIQA's probabilities (and with them its conditioning) must be finite, or no class can be chosen. */
    public static BIQA.Result check(BIQA.Result assessment) {
        check("BIQA (CLIP) probabilities", assessment.probs());
        check("BIQA's conditioning (CLIP text hidden states)", assessment.cCrossattn());
        return assessment;
    }
}
