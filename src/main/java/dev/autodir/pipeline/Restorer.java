package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.Networks;
import dev.autodir.pipeline.tiling.Tiling;
import dev.autodir.pipeline.tiling.TilingPlan;
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
        /** A stage of the pass begins (the previous stage has ended). */
        default void onStageStart(int pass, Stage stage) { }
        default void onAssessment(int pass, BIQA.Result assessment) { }
        default void onConditioning(int pass, FloatTensor cConcat, FloatTensor cCrossattn, float[] sigmas) { }
        /** z is x before the step; both live on the UNet backend. */
        default void onStep(int pass, int step, int steps, float sigma, float t, Ops ops, Tensor z, Tensor denoised) { }
        default void onPassEnd(int pass, PassResult result) { }
        /** What will be tiled for this image (told once, before the first pass). */
        default void onTilingPlan(TilingPlan plan) { }
        /**
         * A tile of a tiled stage: {@code stage} "sample" ({@code round} = the step of {@code rounds}) or "vae_encode",
         * "vae_decode", "scm" ({@code round} = the sweep: one per whole-image operation); {@code tile} of {@code tiles}.
         */
        default void onTile(int pass, String stage, int round, int rounds, int tile, int tiles) { }
    }

    /** Wall time per stage of one pass, in milliseconds, and of each sampling step ({@link StepClock}). */
    public record StageTimes(double assessMs, double encodeMs, double sampleMs, double decodeMs, double scmMs, double[] stepMs) {
        public StageTimes { stepMs = stepMs.clone(); }

        @Override public double[] stepMs() { return stepMs.clone(); }

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
    private final NetworkCache networks = new NetworkCache();
    private final BIQA biqa;
    private final KDiffusionSchedule schedule;
    private final Tiling tiling;
    private java.util.function.UnaryOperator<TilingPlan> planFilter = java.util.function.UnaryOperator.identity();
    private FloatTensor nullContext;

    public Restorer(AutoDIRModels models, StageBackends backends, CLIPTokenizer tokenizer) {
        this.models = models;
        this.backends = backends;
        this.biqa = new BIQA(models, tokenizer, networks);
        this.schedule = new KDiffusionSchedule(models.config().schedule());
        this.tiling = new Tiling(models, backends, networks);
    }

    public BIQA biqa() { return biqa; }

    /** Tests: rewrites each image's tiling plan before it is used (to tile some stages and not others). */
    void planFilter(java.util.function.UnaryOperator<TilingPlan> filter) { this.planFilter = filter; }

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
     * <p>Data flow: what one stage hands the next (the conditioning, the VAE posterior mean, the sampled latent, the
     * decoded image, the SCM output) stays a tensor of the backends involved — on one device when the stages share it
     * — and is {@linkplain Ops#keep kept} across the stage's {@code endStage()}; the host receives copies for the
     * pass results, colour correction and the observer.
     *
     * @param noiseOverride null for {@link SeededNoise} with the options' seed (fresh per pass)
     */
    public Outcome restore(FloatTensor image, RestoreOptions opts, NoiseSource noiseOverride, Observer observer) {
        if (image.rank() != 4 || image.dim(0) != 1 || image.dim(1) != 3) {
            throw new IllegalArgumentException("restore expects one RGB image [1, 3, H, W], got " + image);
        }
        Observer obs = observer == null ? new Observer() { } : observer;
        try (Held held = new Held()) {
            return loop(image, opts, noiseOverride, obs, held);
        }
    }

    /** Tensors kept across stages, each with the backend that holds it; closed when replaced and at the end. */
    private static final class Held implements AutoCloseable {
        private final Map<Tensor, Ops> kept = new java.util.IdentityHashMap<>();

        Tensor keep(Ops ops, Tensor t) {
            Tensor k = ops.keep(t);
            kept.put(k, ops);
            return k;
        }

        void release(Tensor t) {
            if (t != null && kept.remove(t) != null) t.close();
        }

        @Override public void close() {
            for (Tensor t : kept.keySet()) t.close();
            kept.clear();
        }
    }

    private Outcome loop(FloatTensor image, RestoreOptions opts, NoiseSource noiseOverride, Observer obs, Held held) {
        List<String> remaining = new ArrayList<>(BIQA.CLASSES);
        List<PassResult> passes = new ArrayList<>();
        // the pass input on the host (--need-resize: the official script's Lanczos cover and a centre square) ...
        FloatTensor current = opts.resize() > 0 ? NeedResize.apply(image, opts.resize()) : image;
        Ops currentOps = backends.clip();
        Tensor currentT = held.keep(currentOps, currentOps.upload(current));   // ... and on a backend
        int maxPasses = opts.automatic() ? opts.maxPasses() : 1;
        FloatTensor promptContext = null;
        String stop = opts.automatic() ? "reached max passes (" + maxPasses + ")" : "prompt mode runs one pass";
        BIQA.Result finalAssessment = null;
        Ops clip = backends.clip(), vae = backends.vae(), unet = backends.unet(), scm = backends.scm();
        // what to tile is decided (and a stage that cannot fit is refused) before any work starts
        TilingPlan plan = planFilter.apply(tiling.plan(current.dim(2), current.dim(3), maxPasses, opts.tiling(), opts.cfgText() != 1f || opts.cfgImage() != 1f));
        obs.onTilingPlan(plan);
        int cropSide = models.config().clipVision().imageSize();
        for (int pass = 0; pass < maxPasses; pass++) {
            obs.onPassStart(pass, maxPasses);
            final int passIndex = pass;
            Tiling.Progress tiles = (stage, round, rounds, tile, count) -> obs.onTile(passIndex, stage, round, rounds, tile, count);
            long t0 = System.nanoTime();
            obs.onStageStart(pass, opts.automatic() ? Stage.BIQA : Stage.PROMPT);
            BIQA.Result assessment = null;
            Tensor cond;                                      // [1, T, D] on the UNet's backend
            String chosen = null;
            if (opts.automatic()) {
                if (remaining.size() < 2) { stop = "no classes left to assess"; break; }
                BIQA.Assessment a = BIQACrops.assess(biqa, clip, Transfers.move(currentT, currentOps, clip), remaining, plan.biqaCrops(), cropSide);
                assessment = a.result();
                FiniteCheck.check(assessment);
                obs.onAssessment(pass, assessment);
                if (assessment.main().equals("no")) {
                    finalAssessment = assessment;
                    stop = "BIQA found no degradation";
                    clip.endStage();
                    break;
                }
                chosen = assessment.main();
                remaining.remove(assessment.mainIndex());
                cond = held.keep(unet, Transfers.move(a.conditioning(), clip, unet));
                clip.endStage();
            } else {
                if (promptContext == null) {
                    promptContext = biqa.encodePrompt(clip, opts.prompt());
                    clip.endStage();
                    FiniteCheck.check("the prompt's conditioning (CLIP text encoder)", promptContext);
                }
                cond = held.keep(unet, unet.upload(promptContext));
            }
            boolean guided = opts.cfgText() != 1f || opts.cfgImage() != 1f;
            Tensor uncond = guided ? held.keep(unet, unet.upload(nullContext())) : null;
            long t1 = System.nanoTime();
            obs.onStageStart(pass, Stage.VAE_ENCODE);

            int h = current.dim(2), w = current.dim(3), m = models.sizeMultiple();
            boolean fits = h % m == 0 && w % m == 0;
            // mirror padding to the networks' multiple is done on the host when the size needs it
            Tensor padded = fits ? Transfers.move(currentT, currentOps, vae) : vae.upload(Images.reflectPad(current, m));
            int[] ps = padded.shape();
            Tensor mean = tiling.network(vae, Networks.vaeEncode(models, 1, ps[2], ps[3]), plan.encode(), tiles).run(Map.of("image", padded)).get("mean");
            Tensor cConcatT = held.keep(unet, Transfers.move(mean, vae, unet));
            vae.endStage();
            FloatTensor cConcat = unet.download(cConcatT);
            FiniteCheck.check("the VAE encoder", cConcat);
            long t2 = System.nanoTime();
            obs.onStageStart(pass, Stage.SAMPLE);

            float[] sigmas = opts.sampler().sigmas(schedule, opts.schedule(), opts.steps());
            obs.onConditioning(pass, cConcat, unet.download(cond), sigmas);
            NoiseSource noise = noiseOverride != null ? noiseOverride : new SeededNoise(opts.seed());
            FloatTensor z0 = noise.initial(cConcat.shape());
            float[] zd = z0.data();
            for (int i = 0; i < zd.length; i++) zd[i] = zd[i] * sigmas[0];
            Denoiser denoiser = tiling.denoiser(new UNetEvaluator(models, unet, networks), schedule, cConcatT, cond, uncond,
                    opts.cfgText(), opts.cfgImage(), plan.sample(), opts.sampler().evaluations(sigmas), tiles);   // tile progress counts evaluations
            StepClock clock = new StepClock(sigmas.length - 1);                 // ddim may take one step more than --steps
            Tensor zKept;
            try {
                Tensor zT = opts.sampler().sample(unet, denoiser, unet.uploadFloat32(z0), sigmas, noise,
                        (step, steps, sigma, z, den) -> { clock.lap(); obs.onStep(passIndex, step, steps, sigma, schedule.sigmaToT(sigma), unet, z, den); });
                zKept = held.keep(unet, zT);
            } finally {
                Tiling.close(denoiser);
            }
            unet.endStage();
            held.release(cond);
            held.release(uncond);
            held.release(cConcatT);
            FloatTensor z = unet.download(zKept);
            FiniteCheck.check("the UNet (sampling)", z);
            long t3 = System.nanoTime();
            obs.onStageStart(pass, Stage.VAE_DECODE);

            Tensor zOnVae = Transfers.move(zKept, unet, vae);
            int[] zs = zOnVae.shape();
            Tensor decoded = tiling.network(vae, Networks.vaeDecode(models, 1, zs[2], zs[3]), plan.decode(), tiles).run(Map.of("z", zOnVae)).get("image");
            Tensor xT = held.keep(vae, fits ? decoded : vae.crop2d(decoded, 0, 0, h, w));
            vae.endStage();
            held.release(zKept);
            FloatTensor x = vae.download(xT);
            FiniteCheck.check("the VAE decoder", x);
            long t4 = System.nanoTime();
            obs.onStageStart(pass, Stage.SCM);

            Tensor scmIn = scm.concat(List.of(Transfers.move(currentT, currentOps, scm), Transfers.move(xT, vae, scm)), 1);
            Tensor out = tiling.network(scm, Networks.scm(models, 1, h, w), plan.scm(), tiles).run(Map.of("input", scmIn,
                    "scm_weight", scm.uploadFloat32(new FloatTensor(new float[] {opts.scmWeight()}, 1)))).get("output");
            Tensor resultT = held.keep(scm, out);
            scm.endStage();
            FloatTensor result = scm.download(resultT);
            FiniteCheck.check("the SCM (NAFNet)", result);
            long t5 = System.nanoTime();

            FloatTensor xOut = ColorCorrection.apply(opts.colorCorrect(), x, current);
            FloatTensor rOut = ColorCorrection.apply(opts.colorCorrect(), result, current);
            StageTimes times = new StageTimes(ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t3, t4), ms(t4, t5), clock.laps());
            PassResult pr = new PassResult(pass, chosen, assessment, cConcat, z, x, result, xOut, rOut, times);
            passes.add(pr);
            obs.onPassEnd(pass, pr);
            held.release(currentT);
            if ("low resolution".equals(chosen)) {
                current = x;
                currentT = xT;
                currentOps = vae;
                held.release(resultT);
            } else {
                current = result;
                currentT = resultT;
                currentOps = scm;
                held.release(xT);
            }
        }
        return new Outcome(passes, current, finalAssessment, stop);
    }

    /** Frees the networks the restorer compiled on the backends; the backends stay open. */
    @Override public void close() {
        networks.close();
    }

    private static double ms(long a, long b) { return (b - a) / 1e6; }
}
