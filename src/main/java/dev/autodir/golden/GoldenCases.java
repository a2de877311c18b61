package dev.autodir.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.Networks;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.CFGDenoiser;
import dev.autodir.pipeline.ColorCorrection;
import dev.autodir.pipeline.EulerAncestralSampler;
import dev.autodir.pipeline.Images;
import dev.autodir.pipeline.KDiffusionSchedule;
import dev.autodir.pipeline.NetworkCache;
import dev.autodir.pipeline.NoiseSource;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.pipeline.UNetEvaluator;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;
import dev.autodir.text.CLIPTokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The engine's side of each golden case: reads the case's inputs, runs the engine, and returns the outputs under
 * the manifest's names (float tensors as {@link FloatTensor}, integer and uint8 tensors as {@code long[]}). Every
 * network case runs the network compiled by the stage's backend ({@link Networks}), as the pipeline does, so a
 * runtime backend (ONNX Runtime) is checked on the graphs it really runs.
 */
public final class GoldenCases implements GoldenCheck.Runner, AutoCloseable {
    private final AutoDIRModels models;
    private final StageBackends ops;
    private final CLIPTokenizer tokenizer;
    private final NetworkCache networks = new NetworkCache();

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
        Ops o = ops.clip();
        try {
            return o.download(models.clip().logitScale(o)).data()[0];
        } finally {
            o.endStage();
        }
    }

    /** A host input uploaded in float32 whatever the backend's storage precision (timesteps). */
    private record Exact(FloatTensor t) { }

    /**
     * Runs {@code network} compiled on {@code o}; inputs by name are host tensors, uploaded ({@link IntTensor}s as
     * int32, {@link FloatTensor}s in the backend's precision, {@link Exact} in float32).
     */
    private Map<String, Tensor> run(Ops o, Network network, Object... nameValue) {
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (int i = 0; i < nameValue.length; i += 2) {
            Object v = nameValue[i + 1];
            Tensor t = v instanceof IntTensor it ? o.upload(it) : v instanceof Exact e ? o.uploadFloat32(e.t()) : o.upload((FloatTensor) v);
            in.put((String) nameValue[i], t);
        }
        return networks.get(o, network).run(in);
    }

    private void unet(WeightStore in, Map<String, Object> out) {
        Ops o = ops.unet();
        FloatTensor x = in.readFloat("input_x"), ctx = in.readFloat("input_context");
        Map<String, Tensor> r = run(o, Networks.unet(models, x.dim(0), x.dim(2), x.dim(3), ctx.dim(1)),
                "x", x, "timesteps", new Exact(in.readFloat("input_timesteps")), "context", ctx);
        out.put("output_eps", o.download(r.get("eps")));
    }

    private void applyModel(WeightStore in, Map<String, Object> out) {
        Ops o = ops.unet();
        FloatTensor ctx = in.readFloat("input_c_crossattn");
        Tensor x = o.concat(List.of(o.upload(in.readFloat("input_x_noisy")), o.upload(in.readFloat("input_c_concat"))), 1);
        int[] xs = x.shape();
        Map<String, Tensor> r = networks.get(o, Networks.unet(models, xs[0], xs[2], xs[3], ctx.dim(1)))
                .run(Map.of("x", x, "timesteps", o.uploadFloat32(in.readFloat("input_t")), "context", o.upload(ctx)));
        out.put("output_eps", o.download(r.get("eps")));
    }

    private void vaeEncode(WeightStore in, Map<String, Object> out) {
        Ops o = ops.vae();
        FloatTensor image = in.readFloat("input_image");
        Map<String, Tensor> r = run(o, Networks.vaeEncode(models, image.dim(0), image.dim(2), image.dim(3)), "image", image);
        out.put("output_moments", o.download(r.get("moments")));
        out.put("output_mean", o.download(r.get("mean")));
        out.put("output_logvar_clamped", o.download(r.get("logvar")));
    }

    private void vaeDecode(WeightStore in, Map<String, Object> out) {
        Ops o = ops.vae();
        FloatTensor z = in.readFloat("input_z");
        out.put("output_image", o.download(run(o, Networks.vaeDecode(models, z.dim(0), z.dim(2), z.dim(3)), "z", z).get("image")));
    }

    private void nafnet(WeightStore in, Map<String, Object> out) {
        Ops o = ops.scm();
        FloatTensor x = in.readFloat("input");
        out.put("output", o.download(run(o, Networks.scm(models, x.dim(0), x.dim(2), x.dim(3)), "input", x,
                "scm_weight", new Exact(new FloatTensor(new float[] {1f}, 1))).get("output")));
    }

    private void clipText(WeightStore in, Map<String, Object> out) {
        Ops o = ops.clip();
        IntTensor ids = ints(in, "input_ids"), mask = ints(in, "input_attention_mask");
        Network text = Networks.clipText(models, ids.dim(0), ids.dim(1));
        Map<String, Tensor> masked = run(o, text, "input_ids", ids, "attention_mask", mask);
        out.put("output_last_hidden_state_masked", o.download(masked.get("last_hidden_state")));
        out.put("output_pooled_masked", o.download(masked.get("pooled")));
        out.put("output_text_embeds_masked", o.download(masked.get("text_embeds")));
        out.put("output_last_hidden_state_nomask", o.download(run(o, text, "input_ids", ids, "attention_mask", ones(ids)).get("last_hidden_state")));
    }

    private void clipVision(WeightStore in, Map<String, Object> out) {
        Ops o = ops.clip();
        FloatTensor pixels = in.readFloat("input_pixel_values");
        Map<String, Tensor> v = run(o, Networks.clipVision(models, pixels.dim(0)), "pixel_values", pixels);
        out.put("output_last_hidden_state", o.download(v.get("last_hidden_state")));
        out.put("output_pooled", o.download(v.get("pooled")));
        out.put("output_image_embeds", o.download(v.get("image_embeds")));
    }

    private void clipModel(WeightStore in, Map<String, Object> out) {
        Ops o = ops.clip();
        IntTensor ids = ints(in, "input_ids");
        FloatTensor pixels = in.readFloat("input_pixel_values");
        Map<String, Tensor> r = run(o, Networks.clipModel(models, ids.dim(0), ids.dim(1), pixels.dim(0)), "input_ids", ids,
                "attention_mask", ints(in, "input_attention_mask"), "pixel_values", pixels);
        out.put("output_logits_per_text", o.download(r.get("logits_per_text")));
        out.put("output_logits_per_image", o.download(r.get("logits_per_image")));
        out.put("output_text_embeds_normalized", o.download(r.get("text_embeds_normalized")));
        out.put("output_image_embeds_normalized", o.download(r.get("image_embeds_normalized")));
    }

    private void clipNullPrompt(WeightStore in, Map<String, Object> out) {
        Ops o = ops.clip();
        IntTensor ids = ints(in, "input_ids");
        out.put("output_last_hidden_state", o.download(run(o, Networks.clipText(models, ids.dim(0), ids.dim(1)),
                "input_ids", ids, "attention_mask", ones(ids)).get("last_hidden_state")));
    }

    private void clipAssessment(WeightStore in, Map<String, Object> out) {
        BIQA biqa = new BIQA(models, tokenizer, networks);
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
        CFGDenoiser d = new CFGDenoiser(new UNetEvaluator(models, o, networks), schedule, o.upload(in.readFloat("input_c_concat")),
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

    private static IntTensor ints(WeightStore in, String key) {
        long[] v = in.readLong(key);
        int[] d = new int[v.length];
        for (int i = 0; i < v.length; i++) d[i] = Math.toIntExact(v[i]);
        return new IntTensor(d, in.info(key).shape());
    }

    /** A mask of ones: the same as no padding mask. */
    private static IntTensor ones(IntTensor like) {
        IntTensor t = IntTensor.zeros(like.shape());
        java.util.Arrays.fill(t.data(), 1);
        return t;
    }

    /** Frees the networks compiled for the cases. */
    @Override public void close() { networks.close(); }

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
