package dev.autodir.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.clip.CLIP;
import dev.autodir.model.vae.VAE;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.CFGDenoiser;
import dev.autodir.pipeline.ColorCorrection;
import dev.autodir.pipeline.EulerAncestralSampler;
import dev.autodir.pipeline.Images;
import dev.autodir.pipeline.KDiffusionSchedule;
import dev.autodir.pipeline.NoiseSource;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The engine's side of each golden case: reads the case's inputs, runs the engine, and returns the outputs under
 * the manifest's names (float tensors as {@link FloatTensor}, integer and uint8 tensors as {@code long[]}).
 */
public final class GoldenCases implements GoldenCheck.Runner {
    private final AutoDIRModels models;
    private final StageBackends ops;
    private final CLIPTokenizer tokenizer;

    public GoldenCases(AutoDIRModels models, StageBackends ops, CLIPTokenizer tokenizer) {
        this.models = models;
        this.ops = ops;
        this.tokenizer = tokenizer;
    }

    @Override public boolean knows(String name) {
        return switch (name) {
            case "unet", "apply_model", "vae_encode", "vae_decode", "nafnet", "clip_text", "clip_vision", "clip_model",
                 "clip_null_prompt", "clip_assessment", "color_fix", "pipeline", "pipeline_customize" -> true;
            default -> name.startsWith("sampler_cfg_");
        };
    }

    @Override public Map<String, Object> run(GoldenSet.CaseSpec spec, WeightStore in) {
        Map<String, Object> out = new LinkedHashMap<>();
        String name = spec.name();
        switch (name) {
            case "unet" -> unet(in, out);
            case "apply_model" -> applyModel(in, out);
            case "vae_encode" -> vaeEncode(in, out);
            case "vae_decode" -> vaeDecode(in, out);
            case "nafnet" -> nafnet(in, out);
            case "clip_text" -> clipText(in, out);
            case "clip_vision" -> clipVision(in, out);
            case "clip_model" -> clipModel(in, out);
            case "clip_null_prompt" -> clipNullPrompt(in, out);
            case "clip_assessment" -> clipAssessment(in, out);
            case "color_fix" -> out.put("output", ColorCorrection.adaptiveInstanceNormalization(in.readFloat("input_content"), in.readFloat("input_style")));
            case "pipeline", "pipeline_customize" -> pipeline(spec, in, out);
            default -> {
                if (name.startsWith("sampler_cfg_")) sampler(spec, in, out);
                else throw new IllegalArgumentException("no runner for case " + name);
            }
        }
        for (Ops o : new Ops[] {ops.clip(), ops.vae(), ops.unet(), ops.scm()}) o.endStage();
        return out;
    }

    @Override public double logitScale() {
        try {
            return models.clip().logitScale(ops.clip());
        } finally {
            ops.clip().endStage();
        }
    }

    private void unet(WeightStore in, Map<String, Object> out) {
        Ops o = ops.unet();
        Tensor eps = models.unet().forward(o, o.upload(in.readFloat("input_x")), in.readFloat("input_timesteps").data(),
                o.upload(in.readFloat("input_context")));
        out.put("output_eps", o.download(eps));
    }

    private void applyModel(WeightStore in, Map<String, Object> out) {
        Ops o = ops.unet();
        Tensor eps = models.unet().applyModel(o, o.upload(in.readFloat("input_x_noisy")), o.uploadFloat32(in.readFloat("input_t")),
                o.upload(in.readFloat("input_c_concat")), o.upload(in.readFloat("input_c_crossattn")));
        out.put("output_eps", o.download(eps));
    }

    private void vaeEncode(WeightStore in, Map<String, Object> out) {
        Ops o = ops.vae();
        VAE.Posterior p = models.vae().encode(o, o.upload(in.readFloat("input_image")));
        out.put("output_moments", o.download(p.moments()));
        out.put("output_mean", o.download(p.mean()));
        out.put("output_logvar_clamped", o.download(p.logvarClamped()));
    }

    private void vaeDecode(WeightStore in, Map<String, Object> out) {
        Ops o = ops.vae();
        Tensor x = models.vae().decodeFirstStage(o, o.upload(in.readFloat("input_z")), models.config().schedule().scaleFactor());
        out.put("output_image", o.download(x));
    }

    private void nafnet(WeightStore in, Map<String, Object> out) {
        Ops o = ops.scm();
        out.put("output", o.download(models.nafnet().forward(o, o.upload(in.readFloat("input")), 1f)));
    }

    private void clipText(WeightStore in, Map<String, Object> out) {
        Ops o = ops.clip();
        CLIP clip = models.clip();
        int[][] ids = ints(in, "input_ids"), mask = ints(in, "input_attention_mask");
        CLIP.TextOutput masked = clip.encodeText(o, ids, mask);
        out.put("output_last_hidden_state_masked", o.download(masked.lastHiddenState()));
        out.put("output_pooled_masked", o.download(masked.pooled()));
        out.put("output_text_embeds_masked", o.download(clip.projectText(o, masked.pooled())));
        out.put("output_last_hidden_state_nomask", o.download(clip.encodeText(o, ids, null).lastHiddenState()));
    }

    private void clipVision(WeightStore in, Map<String, Object> out) {
        Ops o = ops.clip();
        CLIP.VisionOutput v = models.clip().encodeImage(o, o.upload(in.readFloat("input_pixel_values")));
        out.put("output_last_hidden_state", o.download(v.lastHiddenState()));
        out.put("output_pooled", o.download(v.pooled()));
        out.put("output_image_embeds", o.download(models.clip().projectImage(o, v.pooled())));
    }

    private void clipModel(WeightStore in, Map<String, Object> out) {
        Ops o = ops.clip();
        CLIP clip = models.clip();
        CLIP.TextOutput t = clip.encodeText(o, ints(in, "input_ids"), ints(in, "input_attention_mask"));
        FloatTensor textEmbeds = o.download(clip.projectText(o, t.pooled()));
        CLIP.VisionOutput v = clip.encodeImage(o, o.upload(in.readFloat("input_pixel_values")));
        FloatTensor imageEmbeds = o.download(clip.projectImage(o, v.pooled()));
        FloatTensor perText = CLIP.logitsPerText(textEmbeds, imageEmbeds, clip.logitScale(o));
        out.put("output_logits_per_text", perText);
        out.put("output_logits_per_image", transpose(perText));
        out.put("output_text_embeds_normalized", CLIP.l2Normalize(textEmbeds));
        out.put("output_image_embeds_normalized", CLIP.l2Normalize(imageEmbeds));
    }

    private void clipNullPrompt(WeightStore in, Map<String, Object> out) {
        Ops o = ops.clip();
        out.put("output_last_hidden_state", o.download(models.clip().encodeText(o, ints(in, "input_ids"), null).lastHiddenState()));
    }

    private void clipAssessment(WeightStore in, Map<String, Object> out) {
        BIQA biqa = new BIQA(models.clip(), tokenizer);
        BIQA.Result r = biqa.assess(ops.clip(), in.readFloat("input_image"), BIQA.CLASSES);
        out.put("output_pixel_values", r.pixelValues());
        out.put("output_token_ids", flat(r.tokenIds()));
        out.put("output_logits_per_image", r.logits());
        out.put("output_probs", r.probs());
        out.put("output_c_crossattn", r.cCrossattn());
        out.put("output_main_index", new long[] {r.mainIndex()});
    }

    private void sampler(GoldenSet.CaseSpec spec, WeightStore in, Map<String, Object> out) {
        JsonNode info = spec.info();
        int steps = info.path("steps").asInt();
        float sText = (float) info.path("cfg_text").asDouble(1), sImg = (float) info.path("cfg_image").asDouble(1);
        Ops o = ops.unet();
        KDiffusionSchedule schedule = new KDiffusionSchedule(models.config().schedule());
        float[] sigmas = schedule.getSigmas(steps);
        RecordedNoise noise = new RecordedNoise(in.readFloat("input_noise_init"), in.readFloat("input_noise_steps"));
        // the fixture ran all three branches; so does this check, and the one-branch shortcut is tested separately
        CFGDenoiser d = new CFGDenoiser(models.unet(), schedule, o.upload(in.readFloat("input_c_concat")),
                o.upload(in.readFloat("input_c_crossattn")), o.upload(in.readFloat("input_uncond_crossattn")), sText, sImg, true);
        out.put("output_step0_branches", o.download(d.branches(o, o.uploadFloat32(scaled(noise.initial(), sigmas[0])), sigmas[0])));
        Recorder rec = new Recorder();
        Tensor z = EulerAncestralSampler.sample(o, d, o.uploadFloat32(scaled(noise.initial(), sigmas[0])), sigmas, noise,
                (i, n, sigma, zs, den) -> rec.record(schedule.sigmaToT(sigma), o, zs, den));
        out.put("output_sigmas", new FloatTensor(sigmas.clone(), sigmas.length));
        out.put("output_t", rec.t());
        out.put("output_x_steps", rec.stack(rec.x));
        out.put("output_denoised_steps", rec.stack(rec.denoised));
        out.put("output_z", o.download(z));
    }

    private void pipeline(GoldenSet.CaseSpec spec, WeightStore in, Map<String, Object> out) {
        JsonNode info = spec.info();
        String prompt = info.path("customize").isTextual() ? info.path("customize").asText() : null;
        RestoreOptions opts = RestoreOptions.defaults()
                .withSteps(info.path("steps").asInt())
                .withGuidance((float) info.path("cfg_text").asDouble(1), (float) info.path("cfg_image").asDouble(1))
                .withMaxPasses(passes(spec))
                .withPrompt(prompt);
        RecordedNoise noise = new RecordedNoise(in.readFloat("input_noise_init"), in.readFloat("input_noise_steps"));
        try (Restorer restorer = new Restorer(models, ops, tokenizer)) {
            runPipeline(restorer, info, opts, noise, in, out);
        }
    }

    /**
     * The passes a pipeline case asks for: one past the last pass any output_iterK_* tensor of the manifest belongs to
     * (so a final assessment that stopped the loop with "no" is run too), at least the iterations the harness ran
     * (max_iterations_run, or the entries of iterations), within 1..7.
     */
    static int passes(GoldenSet.CaseSpec spec) {
        JsonNode info = spec.info();
        int n = info.path("max_iterations_run").asInt(info.path("iterations").size());
        for (String t : spec.tensors().keySet()) {
            java.util.regex.Matcher m = ITER.matcher(t);
            if (m.matches()) n = Math.max(n, Integer.parseInt(m.group(1)) + 1);
        }
        return Math.max(1, Math.min(BIQA.CLASSES.size() - 1, n));
    }

    private static final java.util.regex.Pattern ITER = java.util.regex.Pattern.compile("^output_iter(\\d+)_.*$");

    private void runPipeline(Restorer restorer, JsonNode info, RestoreOptions opts, RecordedNoise noise, WeightStore in,
                             Map<String, Object> out) {
        out.put("output_null_token", restorer.nullContext());
        if (opts.prompt() != null) {
            // the user prompt as the model sees it (folded into a small vocabulary) and as CLIP's tokenizer gives it
            out.put("output_customize_token_ids", flat(new int[][] {restorer.biqa().tokenIds(opts.prompt())}));
            out.put("output_customize_token_ids_real_vocab", flat(new int[][] {tokenizer.encode(opts.prompt()).ids()}));
        }
        Map<Integer, Recorder> recs = new LinkedHashMap<>();
        Restorer.Observer obs = new Restorer.Observer() {
            @Override public void onAssessment(int pass, BIQA.Result a) {
                out.put("output_iter" + pass + "_token_ids", flat(a.tokenIds()));
                out.put("output_iter" + pass + "_pixel_values", a.pixelValues());
                out.put("output_iter" + pass + "_probs", a.probs());
            }

            @Override public void onConditioning(int pass, FloatTensor cConcat, FloatTensor cCrossattn, float[] sigmas) {
                out.put("output_iter" + pass + "_c_concat", cConcat);
                out.put("output_iter" + pass + "_c_crossattn", cCrossattn);
                out.put("output_iter" + pass + "_sigmas", new FloatTensor(sigmas.clone(), sigmas.length));
                recs.put(pass, new Recorder());
            }

            @Override public void onStep(int pass, int step, int steps, float sigma, float t, Ops o, Tensor z, Tensor den) {
                recs.get(pass).record(t, o, z, den);
            }

            @Override public void onPassEnd(int pass, Restorer.PassResult p) {
                Recorder r = recs.get(pass);
                out.put("output_iter" + pass + "_t", r.t());
                out.put("output_iter" + pass + "_x_steps", r.stack(r.x));
                out.put("output_iter" + pass + "_denoised_steps", r.stack(r.denoised));
                out.put("output_iter" + pass + "_z", p.z());
                out.put("output_iter" + pass + "_x_decoded", p.decoded());
                out.put("output_iter" + pass + "_result_scm", p.result());
                out.put("output_iter" + pass + "_x_decoded_uint8", bytes(Images.toUint8Hwc(p.decoded())));
                out.put("output_iter" + pass + "_result_scm_uint8", bytes(Images.toUint8Hwc(p.result())));
            }
        };
        restorer.restore(in.readFloat("input_image"), opts, noise, obs);
    }

    /** Noise recorded by the fixture: the initial draw and one draw per step (the same for every pass). */
    static final class RecordedNoise implements NoiseSource {
        private final FloatTensor init, steps;

        RecordedNoise(FloatTensor init, FloatTensor steps) {
            this.init = init;
            this.steps = steps;
        }

        FloatTensor initial() { return init.copy(); }

        @Override public FloatTensor initial(int... shape) {
            check(init, shape);
            return init.copy();
        }

        @Override public FloatTensor step(int step, int... shape) {
            if (step >= steps.dim(0)) throw new IllegalArgumentException("the fixture recorded noise for " + steps.dim(0) + " steps, step " + step + " asked");
            int n = steps.numel() / steps.dim(0);
            float[] d = new float[n];
            System.arraycopy(steps.data(), step * n, d, 0, n);
            FloatTensor t = new FloatTensor(d, shape);
            return t;
        }

        private static void check(FloatTensor t, int[] shape) {
            if (t.numel() != FloatTensor.numel(shape)) {
                throw new IllegalArgumentException("recorded noise " + t + " does not fit shape " + java.util.Arrays.toString(shape));
            }
        }
    }

    /** Collects t, x and denoised per sampler step. */
    private static final class Recorder {
        final List<Float> ts = new ArrayList<>();
        final List<FloatTensor> x = new ArrayList<>(), denoised = new ArrayList<>();

        void record(float t, Ops o, Tensor z, Tensor den) {
            ts.add(t);
            x.add(o.download(z));
            denoised.add(o.download(den));
        }

        FloatTensor t() {
            float[] d = new float[ts.size()];
            for (int i = 0; i < d.length; i++) d[i] = ts.get(i);
            return new FloatTensor(d, d.length);
        }

        FloatTensor stack(List<FloatTensor> parts) {
            int n = parts.get(0).numel();
            float[] d = new float[n * parts.size()];
            for (int i = 0; i < parts.size(); i++) System.arraycopy(parts.get(i).data(), 0, d, i * n, n);
            int[] s = parts.get(0).shape();
            int[] shape = new int[s.length + 1];
            shape[0] = parts.size();
            System.arraycopy(s, 0, shape, 1, s.length);
            return new FloatTensor(d, shape);
        }
    }

    private static FloatTensor scaled(FloatTensor t, float s) {
        float[] d = t.data().clone();
        for (int i = 0; i < d.length; i++) d[i] = d[i] * s;
        return new FloatTensor(d, t.shape());
    }

    private static FloatTensor transpose(FloatTensor m) {
        int r = m.dim(0), c = m.dim(1);
        float[] d = new float[r * c];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) d[j * r + i] = m.data()[i * c + j];
        return new FloatTensor(d, c, r);
    }

    private static int[][] ints(WeightStore in, String key) {
        long[] v = in.readLong(key);
        int[] shape = in.info(key).shape();
        int rows = shape[0], cols = v.length / rows;
        int[][] out = new int[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) out[i][j] = Math.toIntExact(v[i * cols + j]);
        }
        return out;
    }

    private static long[] flat(int[][] a) {
        int n = 0;
        for (int[] r : a) n += r.length;
        long[] out = new long[n];
        int k = 0;
        for (int[] r : a) for (int v : r) out[k++] = v;
        return out;
    }

    private static long[] bytes(byte[] b) {
        long[] out = new long[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i] & 0xff;
        return out;
    }
}
