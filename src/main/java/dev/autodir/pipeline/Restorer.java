package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AutoDIR's restoration loop ({@code eval_w_SCM.main}): per pass, BIQA picks the dominant degradation (or the
 * user's prompt conditions the pass), the VAE encodes the input, Euler-ancestral sampling runs the UNet, the VAE
 * decodes, and the SCM corrects the structure. The chosen class is dropped for later passes; the loop stops when
 * BIQA says "no". After "low resolution" the next pass starts from the VAE decode, otherwise from the SCM output.
 *
 * <p>Images of any size are padded (mirror reflection, right and bottom) to the multiple the networks need for
 * encoding and sampling; the decode is cropped back before the SCM, which sees the image at its own size. BIQA
 * sees the unpadded image.
 *
 * <p>A Restorer is not thread-safe: one restoration at a time (the engine serialises calls).
 */
public final class Restorer implements AutoCloseable {
    /** Hooks for progress and for recording intermediates (all optional). */
    public interface Observer {
        default void onPassStart(int pass, int maxPasses) { }
        default void onAssessment(int pass, BIQA.Result assessment) { }
        default void onConditioning(int pass, FloatTensor cConcat, FloatTensor cCrossattn, float[] sigmas) { }
        /** z is x before the step; both live on the UNet backend. */
        default void onStep(int pass, int step, int steps, float sigma, float t, Ops ops, Tensor z, Tensor denoised) { }
        default void onPassEnd(int pass, PassResult result) { }
    }

    /** Wall time per stage of one pass, in milliseconds. */
    public record StageTimes(double assessMs, double encodeMs, double sampleMs, double decodeMs, double scmMs) {
        public double totalMs() { return assessMs + encodeMs + sampleMs + decodeMs + scmMs; }

        public Map<String, Double> asMap() {
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("assess", assessMs);
            m.put("vae_encode", encodeMs);
            m.put("sample", sampleMs);
            m.put("vae_decode", decodeMs);
            m.put("scm", scmMs);
            return m;
        }
    }

    /**
     * One pass.
     *
     * @param chosenClass the class BIQA chose (null in prompt mode)
     * @param decoded     the VAE decode x [1, 3, H, W] (the official {@code _result.png})
     * @param result      the SCM output [1, 3, H, W] (the official {@code _result_w_SCM.png})
     * @param decodedOut  {@code decoded} after the requested colour correction (the same tensor without one)
     * @param resultOut   {@code result} after the requested colour correction
     */
    public record PassResult(int pass, String chosenClass, BIQA.Result assessment, FloatTensor cConcat, FloatTensor z,
                             FloatTensor decoded, FloatTensor result, FloatTensor decodedOut, FloatTensor resultOut,
                             StageTimes times) { }

    /**
     * @param passes     every pass that ran
     * @param finalImage what the next pass would start from (the input itself when no pass ran)
     * @param finalAssessment BIQA of the last assessment that ended the loop with "no" (null otherwise)
     */
    public record Outcome(List<PassResult> passes, FloatTensor finalImage, BIQA.Result finalAssessment, String stopReason) { }

    private final AutoDIRModels models;
    private final StageBackends backends;
    private final BIQA biqa;
    private final KDiffusionSchedule schedule;
    private FloatTensor nullContext;
    private UNetCall unetCall;

    public Restorer(AutoDIRModels models, StageBackends backends, CLIPTokenizer tokenizer) {
        this.models = models;
        this.backends = backends;
        this.biqa = new BIQA(models.clip(), tokenizer);
        this.schedule = new KDiffusionSchedule(models.config().schedule());
    }

    public BIQA biqa() { return biqa; }

    public KDiffusionSchedule schedule() { return schedule; }

    /** The unconditional context: text last_hidden_state of "" without a mask (computed once). */
    public FloatTensor nullContext() {
        if (nullContext == null) {
            nullContext = biqa.encodePrompt(backends.clip(), "");
            backends.clip().endStage();
        }
        return nullContext;
    }

    /** BIQA alone on an image [1, 3, H, W] in [-1, 1], over all classes. */
    public BIQA.Result assess(FloatTensor image) {
        try {
            return FiniteCheck.check(biqa.assess(backends.clip(), image, BIQA.CLASSES));
        } finally {
            backends.clip().endStage();
        }
    }

    /**
     * Restores image [1, 3, H, W] in [-1, 1].
     *
     * @param noiseOverride null for {@link SeededNoise} with the options' seed (fresh per pass)
     */
    public Outcome restore(FloatTensor image, RestoreOptions opts, NoiseSource noiseOverride, Observer observer) {
        if (image.rank() != 4 || image.dim(0) != 1 || image.dim(1) != 3) {
            throw new IllegalArgumentException("restore expects one RGB image [1, 3, H, W], got " + image);
        }
        Observer obs = observer == null ? new Observer() { } : observer;
        List<String> remaining = new ArrayList<>(BIQA.CLASSES);
        List<PassResult> passes = new ArrayList<>();
        FloatTensor current = image;
        int maxPasses = opts.automatic() ? opts.maxPasses() : 1;
        FloatTensor promptContext = null;
        String stop = opts.automatic() ? "reached max passes (" + maxPasses + ")" : "prompt mode runs one pass";
        BIQA.Result finalAssessment = null;
        for (int pass = 0; pass < maxPasses; pass++) {
            obs.onPassStart(pass, maxPasses);
            long t0 = System.nanoTime();
            BIQA.Result assessment = null;
            FloatTensor cCrossattn;
            String chosen = null;
            if (opts.automatic()) {
                if (remaining.size() < 2) { stop = "no classes left to assess"; break; }
                assessment = biqa.assess(backends.clip(), current, remaining);
                backends.clip().endStage();
                FiniteCheck.check(assessment);
                obs.onAssessment(pass, assessment);
                if (assessment.main().equals("no")) {
                    finalAssessment = assessment;
                    stop = "BIQA found no degradation";
                    break;
                }
                chosen = assessment.main();
                remaining.remove(assessment.mainIndex());
                cCrossattn = assessment.cCrossattn();
            } else {
                if (promptContext == null) {
                    promptContext = biqa.encodePrompt(backends.clip(), opts.prompt());
                    backends.clip().endStage();
                }
                cCrossattn = promptContext;
            }
            boolean guided = opts.cfgText() != 1f || opts.cfgImage() != 1f;
            FiniteCheck.check("the conditioning (CLIP text encoder)", cCrossattn);
            FloatTensor uncond = guided ? nullContext() : null;
            long t1 = System.nanoTime();

            int h = current.dim(2), w = current.dim(3);
            FloatTensor padded = Images.reflectPad(current, models.sizeMultiple());
            Ops vae = backends.vae();
            FloatTensor cConcat = vae.download(models.vae().encode(vae, vae.upload(padded)).mean());
            vae.endStage();
            FiniteCheck.check("the VAE encoder", cConcat);
            long t2 = System.nanoTime();

            float[] sigmas = schedule.getSigmas(opts.steps());
            obs.onConditioning(pass, cConcat, cCrossattn, sigmas);
            NoiseSource noise = noiseOverride != null ? noiseOverride : new SeededNoise(opts.seed());
            FloatTensor z0 = noise.initial(cConcat.shape());
            float[] zd = z0.data();
            for (int i = 0; i < zd.length; i++) zd[i] = zd[i] * sigmas[0];
            Ops unet = backends.unet();
            if (unetCall == null) unetCall = UNetCall.forBackend(unet, models.unet(), System.err);
            CFGDenoiser denoiser = new CFGDenoiser(models.unet(), schedule, unet.upload(cConcat), unet.upload(cCrossattn),
                    uncond == null ? null : unet.upload(uncond), opts.cfgText(), opts.cfgImage(), false, unetCall);
            final int passIndex = pass;
            Tensor zT = EulerAncestralSampler.sample(unet, denoiser, unet.uploadFloat32(z0), sigmas, noise,
                    (step, steps, sigma, z, den) -> obs.onStep(passIndex, step, steps, sigma, schedule.sigmaToT(sigma), unet, z, den));
            FloatTensor z = unet.download(zT);
            // a captured graph lives for one pass: later stages may grow (reallocate) the backend's scratch memory,
            // which would leave a graph replayed in the next pass pointing at freed memory
            unetCall.close();
            unet.endStage();
            FiniteCheck.check("the UNet (sampling)", z);
            long t3 = System.nanoTime();

            FloatTensor xPadded = vae.download(models.vae().decodeFirstStage(vae, vae.upload(z), models.config().schedule().scaleFactor()));
            vae.endStage();
            FiniteCheck.check("the VAE decoder", xPadded);
            FloatTensor x = Images.crop(xPadded, h, w);
            long t4 = System.nanoTime();

            Ops scm = backends.scm();
            FloatTensor result = scm.download(models.nafnet().forward(scm, scm.upload(Images.concatChannels(current, x)), opts.scmWeight()));
            scm.endStage();
            FiniteCheck.check("the SCM (NAFNet)", result);
            long t5 = System.nanoTime();

            FloatTensor xOut = ColorCorrection.apply(opts.colorCorrect(), x, current);
            FloatTensor rOut = ColorCorrection.apply(opts.colorCorrect(), result, current);
            StageTimes times = new StageTimes(ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t3, t4), ms(t4, t5));
            PassResult pr = new PassResult(pass, chosen, assessment, cConcat, z, x, result, xOut, rOut, times);
            passes.add(pr);
            obs.onPassEnd(pass, pr);
            current = "low resolution".equals(chosen) ? x : result;
        }
        return new Outcome(passes, current, finalAssessment, stop);
    }

    /** Frees what the restorer holds on the backends (a captured UNet graph); the backends stay open. */
    @Override public void close() {
        if (unetCall != null) unetCall.close();
        unetCall = null;
    }

    private static double ms(long a, long b) { return (b - a) / 1e6; }
}
