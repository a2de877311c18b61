package dev.autodir.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.TestData;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.io.WeightStore;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * golden-check's judgement: extra outputs are reported, not failed; the pipeline_customize outputs; and at reduced
 * precision the chained outputs gated by tolerances derived from the networks' errors, tested on the cpu with synthetic
 * errors (the engine's float32 outputs perturbed by chosen relative amounts), since the real FP16 runs need a GPU.
 */
class GoldenCheckTest {
    static GoldenSet set;
    static AutoDIRModels models;
    static StageBackends ops;
    static GoldenCases cases;

    @BeforeAll static void open() {
        set = GoldenSet.open(TestData.goldenA());
        models = AutoDIRModels.load(set.weightsFile(), GoldenConfig.yaml(set));
        ops = StageBackends.all(new CpuOps());
        cases = new GoldenCases(models, ops, CLIPTokenizer.loadDefault());
    }

    @AfterAll static void close() {
        ops.close();
        models.close();
    }

    /** The engine's outputs, restricted to {@code only}, each passed through {@code change}. */
    static class Perturbed implements GoldenCheck.Runner {
        private final Set<String> only;
        private final BiFunction<String, Object, Object> change;

        Perturbed(Set<String> only, BiFunction<String, Object, Object> change) {
            this.only = only;
            this.change = change;
        }

        @Override public boolean knows(String c) { return only.contains(c); }

        @Override public Map<String, Object> run(GoldenSet.CaseSpec spec, WeightStore in) {
            Map<String, Object> out = new LinkedHashMap<>();
            cases.run(spec, in).forEach((k, v) -> out.put(k, change.apply(spec.name() + "/" + k, v)));
            return out;
        }

        @Override public double logitScale() { return cases.logitScale(); }
    }

    /** v plus Gaussian noise of relative L2 size r (exactly r: the noise is scaled to ‖v‖·r). */
    static FloatTensor noisy(FloatTensor v, double r, long seed) {
        SplittableRandom g = new SplittableRandom(seed);
        float[] d = v.data(), n = new float[d.length];
        double nn = 0, vv = 0;
        for (int i = 0; i < d.length; i++) {
            n[i] = (float) (Math.sqrt(-2 * Math.log(1 - g.nextDouble())) * Math.cos(2 * Math.PI * g.nextDouble()));
            nn += n[i] * (double) n[i];
            vv += d[i] * (double) d[i];
        }
        double k = r * Math.sqrt(vv / nn);
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) out[i] = (float) (d[i] + k * n[i]);
        return new FloatTensor(out, v.shape());
    }

    static GoldenCheck.Report check(GoldenCheck.Runner r, double floor, StringBuilder text) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        GoldenCheck.Report rep = new GoldenCheck(set, r, floor).run(new PrintStream(buf, true, StandardCharsets.UTF_8));
        text.append(buf.toString(StandardCharsets.UTF_8));
        return rep;
    }

    static GoldenCheck.Row row(GoldenCheck.Report rep, String c, String tensor) {
        return rep.rows().stream().filter(x -> x.caseName().equals(c) && x.tensor().equals(tensor)).findFirst().orElseThrow();
    }

    @Test
    void anOutputTheManifestDoesNotListIsExtraNotAFailure() {
        GoldenCheck.Runner withExtra = new Perturbed(Set.of("color_fix"), (k, v) -> v) {
            @Override public Map<String, Object> run(GoldenSet.CaseSpec spec, WeightStore in) {
                Map<String, Object> out = super.run(spec, in);
                out.put("output_something_else", FloatTensor.zeros(2));
                return out;
            }
        };
        StringBuilder text = new StringBuilder();
        GoldenCheck.Report rep = check(withExtra, 0, text);
        assertTrue(rep.passed(), text.toString());
        assertEquals(GoldenCheck.Status.EXTRA, row(rep, "color_fix", "output_something_else").status());
        assertTrue(text.toString().contains("1 extra (produced, not in the manifest)"), text.toString());
    }

    /**
     * Network outputs off by 1e-3 (within the FP16 floor 2e-3) give e_unet = 1e-3, so sampler_cfg_1_1's derived
     * tolerance is 5 steps · A 1 · 1e-3 = 5e-3 (and sampler_cfg_1.5_1.2's, with A = 1.5 + 0.3 + 0.2 = 2, is 1e-2): a
     * latent off by 3e-3 passes, one off by 8e-3 fails; the host-computed σ keep the manifest's 1e-5.
     */
    @Test
    void chainedOutputsAreGatedByTolerancesDerivedFromTheNetworksErrors() {
        Set<String> only = Set.of("unet", "apply_model", "sampler_cfg_1_1", "sampler_cfg_1.5_1.2");
        StringBuilder text = new StringBuilder();
        GoldenCheck.Report ok = check(new Perturbed(only, (k, v) -> k.startsWith("unet/") || k.startsWith("apply_model/")
                ? noisy((FloatTensor) v, 1e-3, 1) : k.endsWith("/output_z") ? noisy((FloatTensor) v, 3e-3, 2) : v), 2e-3, text);
        assertEquals(0, ok.count(GoldenCheck.Status.FAIL), text.toString());
        assertEquals(5e-3, row(ok, "sampler_cfg_1_1", "output_z").tolerance(), 2e-5, text.toString());
        assertEquals(1e-2, row(ok, "sampler_cfg_1.5_1.2", "output_z").tolerance(), 4e-5, text.toString());
        assertEquals(GoldenCheck.Status.PASS, row(ok, "sampler_cfg_1_1", "output_z").status());
        assertEquals(1e-5, row(ok, "sampler_cfg_1_1", "output_sigmas").tolerance(), 0, "host float32: the manifest's tolerance");
        assertTrue(text.toString().contains("unet 0.00100"), text.toString());

        text.setLength(0);
        GoldenCheck.Report bad = check(new Perturbed(only, (k, v) -> k.startsWith("unet/") || k.startsWith("apply_model/")
                ? noisy((FloatTensor) v, 1e-3, 1) : k.equals("sampler_cfg_1_1/output_z") ? noisy((FloatTensor) v, 8e-3, 2)
                : k.equals("sampler_cfg_1.5_1.2/output_sigmas") ? noisy((FloatTensor) v, 1e-4, 3) : v), 2e-3, text);
        assertEquals(GoldenCheck.Status.FAIL, row(bad, "sampler_cfg_1_1", "output_z").status(), text.toString());
        assertEquals(GoldenCheck.Status.FAIL, row(bad, "sampler_cfg_1.5_1.2", "output_sigmas").status(), text.toString());
        assertEquals(2, bad.count(GoldenCheck.Status.FAIL), text.toString());
    }

    /**
     * A whole pipeline at reduced precision, with every network's outputs off by 5e-4: the pipeline's own float32
     * outputs pass; later passes get looser tolerances; uint8 images are reported, not gated. Set A's pass 1 picks its
     * class by a margin of 0.045, within twice the derived probability error of that pass (2 · 0.033): FP16 could flip
     * that argmax, so pass 2 is reported (INFO, a near tie), not gated.
     */
    @Test
    void thePipelineAtReducedPrecision() {
        StringBuilder text = new StringBuilder();
        Set<String> nets = Set.of("unet", "vae_encode", "vae_decode", "nafnet", "clip_text", "clip_vision");
        GoldenCheck.Report rep = check(new Perturbed(Set.of("unet", "vae_encode", "vae_decode", "nafnet", "clip_text", "clip_vision",
                "pipeline"), (k, v) -> nets.contains(k.substring(0, k.indexOf('/'))) && v instanceof FloatTensor f ? noisy(f, 5e-4, k.hashCode()) : v),
                2e-3, text);
        assertEquals(0, rep.count(GoldenCheck.Status.FAIL), text.toString());
        assertEquals(GoldenCheck.Status.INFO, row(rep, "pipeline", "output_iter1_result_scm_uint8").status());
        assertEquals(GoldenCheck.Status.PASS, row(rep, "pipeline", "output_iter1_result_scm").status(), text.toString());
        assertEquals(GoldenCheck.Status.INFO, row(rep, "pipeline", "output_iter2_result_scm").status(), text.toString());
        assertTrue(row(rep, "pipeline", "output_iter2_result_scm").note().contains("near-tie"), text.toString());
        assertEquals(1e-5, row(rep, "pipeline", "output_iter0_pixel_values").tolerance(), 0, "the first CLIP input is host float32");
        assertTrue(row(rep, "pipeline", "output_iter1_result_scm").tolerance() > row(rep, "pipeline", "output_iter0_result_scm").tolerance(),
                "later passes carry the earlier passes' errors");
    }

    @Test
    void derivedTolerancesFollowTheChain() throws Exception {
        ReducedPrecisionTolerance t = new ReducedPrecisionTolerance(2e-3, 10);
        t.record(ReducedPrecisionTolerance.Network.UNET, 1e-3);
        t.record(ReducedPrecisionTolerance.Network.VAE_ENCODE, 4e-4);
        t.record(ReducedPrecisionTolerance.Network.VAE_DECODE, 5e-4);
        t.record(ReducedPrecisionTolerance.Network.SCM, 6e-4);
        t.record(ReducedPrecisionTolerance.Network.CLIP, 1e-4);
        JsonNode info = new ObjectMapper().readTree("{\"steps\": 10, \"cfg_text\": 1, \"cfg_image\": 1, \"customize\": null,"
                + " \"iterations\": [{\"top2_prob_margin\": 0.5}, {\"top2_prob_margin\": 0.001}, {\"top2_prob_margin\": 0.4}]}");
        double s = 2 * 10 * 1e-4, pass = s + 1e-4 + 4e-4 + 10 * 1e-3 + 5e-4 + 6e-4;
        assertEquals(pass, t.passError(info, true), 1e-12);
        assertEquals(s + 1e-4 + 4e-4 + 10e-3 + 5e-4 + 6e-4, t.tolerance("pipeline", "output_iter0_result_scm", info), 1e-12);
        assertEquals(2 * pass + s + 1e-4 + 4e-4 + 10e-3, t.tolerance("pipeline", "output_iter2_z", info), 1e-12);
        assertEquals(2e-3, t.tolerance("pipeline", "output_iter0_probs", info), 0, "below the floor: the floor");
        assertEquals(ReducedPrecisionTolerance.HOST, t.tolerance("pipeline", "output_iter1_sigmas", info));
        assertTrue(Double.isNaN(t.tolerance("pipeline", "output_iter1_x_decoded_uint8", info)));
        assertEquals(2, t.nearTieFrom(info), "pass 1's margin 0.001 is within twice its probability error");
        assertTrue(t.nearTie("pipeline", "output_iter2_token_ids", info));
        assertTrue(!t.nearTie("pipeline", "output_iter1_token_ids", info));
        assertEquals(2e-3, new ReducedPrecisionTolerance(2e-3, 10).error(ReducedPrecisionTolerance.Network.SCM), 0, "unmeasured: the floor");
        assertEquals(2.0, ReducedPrecisionTolerance.guidance(new ObjectMapper().readTree("{\"cfg_text\": 1.5, \"cfg_image\": 1.2}")), 1e-12);
    }

    /** A pipeline_customize case: one pass on the user's prompt, and its token ids as the model and CLIP's tokenizer give them. */
    @Test
    void aCustomizeCaseEmitsThePromptsTokenIds() throws Exception {
        String prompt = "please remove the rain streaks, keep details!";
        JsonNode info = new ObjectMapper().readTree("{\"steps\": 2, \"cfg_text\": 1.0, \"cfg_image\": 1.0, \"customize\": \"" + prompt + "\"}");
        GoldenSet.CaseSpec pipeline = set.cases().stream().filter(c -> c.name().equals("pipeline")).findFirst().orElseThrow();
        GoldenSet.CaseSpec spec = new GoldenSet.CaseSpec("pipeline_customize", pipeline.file(), info, Map.of());
        Map<String, Object> out;
        try (WeightStore in = WeightStore.open(pipeline.file())) {
            out = cases.run(spec, in);
        }
        JsonNode golden = new ObjectMapper().readTree(TestData.tokenizerGolden().toFile()).path("entries");
        long[] real = null;
        for (JsonNode e : golden) {
            if (e.path("text").asText().equals(prompt)) {
                real = new long[77];
                for (int i = 0; i < 77; i++) real[i] = e.path("input_ids").get(i).asLong();
            }
        }
        assertArrayEquals(real, (long[]) out.get("output_customize_token_ids_real_vocab"));
        int v = models.config().clipText().vocabSize();
        long[] folded = (long[]) out.get("output_customize_token_ids");
        for (int i = 0; i < 77; i++) {
            long expect = real[i] == 49406 ? v - 2 : real[i] == 49407 ? v - 1 : real[i] % (v - 2);
            assertEquals(expect, folded[i], "folded id " + i);
        }
        assertTrue(out.containsKey("output_iter0_z") && !out.containsKey("output_iter1_z"), "one pass: " + out.keySet());
        assertTrue(!out.containsKey("output_iter0_probs"), "no assessment in prompt mode");
    }
}
