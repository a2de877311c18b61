package dev.autodir.pipeline;

import dev.autodir.pipeline.tiling.TilingOptions;

/**
 * What a restoration does, validated on construction (a bad value names itself).
 *
 * @param steps        sampling steps per pass (official script: 100)
 * @param cfgText      text guidance scale s_text (1 = no guidance: one UNet call per step)
 * @param cfgImage     image guidance scale s_img
 * @param scmWeight    the SCM weight w (official code: 1; the paper uses 0.1 for super-resolution)
 * @param maxPasses    at most this many passes in automatic mode (official: 7)
 * @param prompt       null for automatic mode; otherwise the user's prompt, one pass
 * @param seed         the noise seed; every pass re-seeds with it, as the official script does
 * @param colorCorrect colour correction of the written outputs (to the pass input's colours)
 * @param sampler      the sampler (k-diffusion's names; default euler_a, AutoDIR's)
 * @param schedule     the noise levels (default: the model's own discretisation)
 * @param resize       0, or the official script's {@code --need-resize} at this {@code --resolution} (768 there): an
 *                     image with a side below it is scaled up with PIL's Lanczos to cover it, then a centre square of
 *                     this side is cut ({@link NeedResize}); the restoration runs on that square
 * @param tiling       how large images are tiled (default: automatic, by memory and size)
 */
public record RestoreOptions(int steps, float cfgText, float cfgImage, float scmWeight, int maxPasses, String prompt,
                             long seed, ColorCorrection.Mode colorCorrect, Sampler sampler, SigmaSchedule schedule, int resize,
                             TilingOptions tiling) {
    public static final int MAX_STEPS = 1000;
    /** The official script's {@code --resolution} default, used by {@code --need-resize}. */
    public static final int OFFICIAL_RESOLUTION = 768;
    /**
     * Guidance scales are in [0, {@value #MAX_GUIDANCE}]: 1 is no guidance, the official script uses 7.5 / 1.5, and
     * Stable Diffusion users rarely go past 20; a negative scale inverts the conditioning, and a huge one (-1e30)
     * only overflows the sampler into NaN.
     */
    public static final float MAX_GUIDANCE = 50f;
    /** The SCM weight is in [0, {@value #MAX_SCM_WEIGHT}] (the official code uses 1, the paper 0.1 for super-resolution). */
    public static final float MAX_SCM_WEIGHT = 10f;

    public RestoreOptions {
        if (steps < 1 || steps > MAX_STEPS) throw new IllegalArgumentException("steps must be in 1.." + MAX_STEPS + ", got " + steps);
        if (!(cfgText >= 0 && cfgText <= MAX_GUIDANCE)) throw new IllegalArgumentException("cfg-text must be in [0, " + MAX_GUIDANCE + "], got " + cfgText);
        if (!(cfgImage >= 0 && cfgImage <= MAX_GUIDANCE)) throw new IllegalArgumentException("cfg-image must be in [0, " + MAX_GUIDANCE + "], got " + cfgImage);
        if (!(scmWeight >= 0 && scmWeight <= MAX_SCM_WEIGHT)) {
            throw new IllegalArgumentException("scm-weight must be in [0, " + MAX_SCM_WEIGHT + "], got " + scmWeight);
        }
        if (maxPasses < 1 || maxPasses > BIQA.CLASSES.size() - 1) {
            throw new IllegalArgumentException("max-passes must be in 1.." + (BIQA.CLASSES.size() - 1) + ", got " + maxPasses);
        }
        if (prompt != null && prompt.isBlank()) throw new IllegalArgumentException("prompt must not be empty");
        if (colorCorrect == null) colorCorrect = ColorCorrection.Mode.NONE;
        if (sampler == null) sampler = Sampler.EULER_A;
        if (schedule == null) schedule = SigmaSchedule.DEFAULT;
        if (resize != 0 && (resize < NeedResize.MIN_SIDE || resize > NeedResize.MAX_SIDE)) {
            throw new IllegalArgumentException("resolution must be in " + NeedResize.MIN_SIDE + ".." + NeedResize.MAX_SIDE
                    + " (or 0: no resize), got " + resize);
        }
        if (tiling == null) tiling = TilingOptions.defaults();
    }

    /** The default tiling. */
    public RestoreOptions(int steps, float cfgText, float cfgImage, float scmWeight, int maxPasses, String prompt,
                          long seed, ColorCorrection.Mode colorCorrect, Sampler sampler, SigmaSchedule schedule, int resize) {
        this(steps, cfgText, cfgImage, scmWeight, maxPasses, prompt, seed, colorCorrect, sampler, schedule, resize, null);
    }

    /** Euler-ancestral over the default schedule, no resize. */
    public RestoreOptions(int steps, float cfgText, float cfgImage, float scmWeight, int maxPasses, String prompt,
                          long seed, ColorCorrection.Mode colorCorrect) {
        this(steps, cfgText, cfgImage, scmWeight, maxPasses, prompt, seed, colorCorrect, Sampler.EULER_A, SigmaSchedule.DEFAULT, 0);
    }

    /** The defaults: 100 steps, no guidance (1, 1), SCM weight 1, up to 7 passes, automatic mode, seed 42, euler_a, no resize. */
    public static RestoreOptions defaults() {
        return new RestoreOptions(100, 1f, 1f, 1f, 7, null, 42L, ColorCorrection.Mode.NONE);
    }

    public boolean automatic() { return prompt == null; }

    public RestoreOptions withSteps(int s) { return new RestoreOptions(s, cfgText, cfgImage, scmWeight, maxPasses, prompt, seed, colorCorrect, sampler, schedule, resize, tiling); }
    public RestoreOptions withGuidance(float text, float image) { return new RestoreOptions(steps, text, image, scmWeight, maxPasses, prompt, seed, colorCorrect, sampler, schedule, resize, tiling); }
    public RestoreOptions withScmWeight(float w) { return new RestoreOptions(steps, cfgText, cfgImage, w, maxPasses, prompt, seed, colorCorrect, sampler, schedule, resize, tiling); }
    public RestoreOptions withMaxPasses(int n) { return new RestoreOptions(steps, cfgText, cfgImage, scmWeight, n, prompt, seed, colorCorrect, sampler, schedule, resize, tiling); }
    public RestoreOptions withPrompt(String p) { return new RestoreOptions(steps, cfgText, cfgImage, scmWeight, maxPasses, p, seed, colorCorrect, sampler, schedule, resize, tiling); }
    public RestoreOptions withSeed(long s) { return new RestoreOptions(steps, cfgText, cfgImage, scmWeight, maxPasses, prompt, s, colorCorrect, sampler, schedule, resize, tiling); }
    public RestoreOptions withColorCorrect(ColorCorrection.Mode m) { return new RestoreOptions(steps, cfgText, cfgImage, scmWeight, maxPasses, prompt, seed, m, sampler, schedule, resize, tiling); }
    public RestoreOptions withSampler(Sampler k) { return new RestoreOptions(steps, cfgText, cfgImage, scmWeight, maxPasses, prompt, seed, colorCorrect, k, schedule, resize, tiling); }
    public RestoreOptions withSchedule(SigmaSchedule k) { return new RestoreOptions(steps, cfgText, cfgImage, scmWeight, maxPasses, prompt, seed, colorCorrect, sampler, k, resize, tiling); }
    /** The official {@code --need-resize} at {@code resolution} (0: off). */
    public RestoreOptions withResize(int resolution) { return new RestoreOptions(steps, cfgText, cfgImage, scmWeight, maxPasses, prompt, seed, colorCorrect, sampler, schedule, resolution, tiling); }
    public RestoreOptions withTiling(TilingOptions t) { return new RestoreOptions(steps, cfgText, cfgImage, scmWeight, maxPasses, prompt, seed, colorCorrect, sampler, schedule, resize, t); }
}
