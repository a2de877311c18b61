package dev.autodir.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.backend.BackendReport;
import dev.autodir.backend.StagePlacement;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.image.RgbImage;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.tiling.TilingPlan;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The JSON report of {@code autodir restore --report}: the settings and options of the run, then per image its
 * input (file, size), status, the files written, and per pass every class probability BIQA gave, the chosen class,
 * what the next pass starts from, the time of each stage and of each sampling step; the reason the loop stopped and
 * the total time. Times are wall-clock milliseconds.
 *
 * <p>{@code backends} says what each stage really ran on: {@code requested} and {@code used} (one line each), and
 * per stage the backend asked for, the backend and precision that ran it, and the reason of a fallback (null when
 * there was none). {@code precision} is the precision asked for and the one each stage got; for an INT8/FP8 engine
 * also its calibration file and {@code float_layers}, the precision of what it does not quantize.
 */
final class RestoreReport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final ObjectNode root = JSON.createObjectNode();
    private final ArrayNode images;
    private final boolean quantized;

    RestoreReport(AutoDIREngine.Settings s, RestoreOptions o, String format, boolean savePasses, Path outputDir) {
        root.put("weights", RandomWeightStore.isSpec(s.weights()) ? s.weights().toString() : abs(s.weights()));
        root.put("config", s.config() == null ? null : abs(s.config()));
        root.put("tokenizer", s.tokenizer() == null ? null : abs(s.tokenizer()));
        ObjectNode b = root.putObject("backends");
        b.put("requested", s.backends().toString());
        b.putNull("used");
        b.put("strict", s.strictBackend());
        b.putNull("stages");
        ObjectNode p = root.putObject("precision");
        p.put("requested", s.precisionLabel());
        p.putNull("used");
        quantized = s.quantization() != null;
        if (quantized) p.put("calibration", abs(s.quantization().calibration()));
        ObjectNode opt = root.putObject("options");
        opt.put("mode", o.automatic() ? "automatic" : "prompt");
        opt.put("prompt", o.prompt());
        opt.put("steps", o.steps());
        opt.put("cfg_text", o.cfgText());
        opt.put("cfg_image", o.cfgImage());
        opt.put("scm_weight", o.scmWeight());
        opt.put("max_passes", o.automatic() ? o.maxPasses() : 1);
        opt.put("seed", o.seed());
        opt.put("sampler", o.sampler().cliName());
        opt.put("schedule", o.schedule().cliName());
        opt.put("need_resize", o.resize() > 0 ? o.resize() : null);
        opt.put("color_correct", o.colorCorrect().name().toLowerCase(Locale.ROOT));
        opt.put("format", format);
        opt.put("save_passes", savePasses);
        opt.put("tiles", o.tiling().tilesLabel());
        opt.put("tile_overlap", o.tiling().overlap());
        opt.put("memory_budget_gib", o.tiling().memoryBudget() == 0 ? null : Math.round(o.tiling().memoryBudget() * 100.0 / (1L << 30)) / 100.0);
        opt.put("biqa_crops", o.tiling().biqaCrops());
        root.put("output_dir", abs(outputDir));
        root.putNull("load_ms");
        images = root.putArray("images");
    }

    /** How the outputs are named and encoded (the checked --name-template, --bit-depth, --jpeg-quality). */
    void writing(String nameTemplate, String bitDepth, Integer jpegQuality) {
        ObjectNode opt = (ObjectNode) root.get("options");
        opt.put("name_template", nameTemplate);
        opt.put("bit_depth", bitDepth);
        opt.put("jpeg_quality", jpegQuality);
    }

    void engineLoaded(BackendReport backends, double loadMs) {
        ObjectNode b = (ObjectNode) root.get("backends");
        b.put("used", backends.backends());
        ObjectNode stages = b.putObject("stages");
        for (StagePlacement st : backends.stages()) {
            ObjectNode n = stages.putObject(st.stage());
            n.put("requested", st.requested());
            n.put("backend", st.backend());
            n.put("precision", st.precision().lower());
            n.put("fallback_reason", st.reason());
        }
        ObjectNode p = (ObjectNode) root.get("precision");
        if (quantized) {
            // an INT8/FP8 engine: the calibrated layers run quantized, everything else in the stages' float precision
            p.put("used", p.get("requested").asText());
            p.put("float_layers", backends.precisions());
        } else {
            p.put("used", backends.precisions());
        }
        root.put("load_ms", round(loadMs));
    }

    /** A new entry for an input, in batch order. */
    ObjectNode image(Path input) {
        ObjectNode n = images.addObject();
        n.put("input", abs(input));
        n.put("status", "pending");
        return n;
    }

    static void failed(ObjectNode image, String error) {
        image.put("status", "failed");
        image.put("error", error);
    }

    /** --skip-existing: the image was restored by an earlier run. */
    static void skipped(ObjectNode image, Path output) {
        image.put("status", "skipped");
        image.put("output", abs(output));
    }

    static void read(ObjectNode image, RgbImage img) {
        image.put("width", img.width());
        image.put("height", img.height());
        image.put("bit_depth", img.sourceBitDepth());
        ArrayNode w = image.putArray("warnings");
        img.warnings().forEach(w::add);
        image.putArray("passes");
    }

    /** What was tiled for this image and how (the plan made before the first pass). */
    static void tiling(ObjectNode image, TilingPlan plan) {
        image.set("tiling", JSON.valueToTree(plan.asMap()));
    }

    static void pass(ObjectNode image, Restorer.PassResult p, List<Path> files) {
        ObjectNode n = ((ArrayNode) image.get("passes")).addObject();
        n.put("pass", p.pass());
        if (p.assessment() != null) {
            n.set("probabilities", probabilities(p.assessment()));
        } else {
            n.putNull("probabilities");
        }
        n.put("chosen", p.chosenClass());
        n.put("next_input", "low resolution".equals(p.chosenClass()) ? "vae_decode" : "scm_result");
        ObjectNode t = n.putObject("times_ms");
        for (Map.Entry<String, Double> e : p.times().asMap().entrySet()) t.put(e.getKey(), round(e.getValue()));
        t.put("total", round(p.times().totalMs()));
        ArrayNode steps = n.putArray("step_ms");
        for (double ms : p.times().stepMs()) steps.add(round(ms));
        ArrayNode f = n.putArray("files");
        files.forEach(x -> f.add(abs(x)));
    }

    static void restored(ObjectNode image, Restorer.Outcome out, Path output, double totalMs) {
        image.put("status", "restored");
        image.put("output", abs(output));
        if (out.finalAssessment() != null) {
            ObjectNode fa = image.putObject("final_assessment");
            fa.set("probabilities", probabilities(out.finalAssessment()));
            fa.put("dominant", out.finalAssessment().main());
        } else {
            image.putNull("final_assessment");
        }
        image.put("stop_reason", out.stopReason());
        image.put("total_ms", round(totalMs));
    }

    static ObjectNode probabilities(BIQA.Result a) {
        ObjectNode p = JSON.createObjectNode();
        for (int k = 0; k < a.classes().size(); k++) p.put(a.classes().get(k), a.probability(k));
        return p;
    }

    String toJson(int restored, int failed, double totalMs) {
        root.put("restored", restored);
        root.put("failed", failed);
        root.put("total_ms", round(totalMs));
        try {
            return JSON.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the report", e);
        }
    }

    /** The absolute path, or null for none (an image restored from memory has no input or output file). */
    private static String abs(Path p) { return p == null ? null : p.toAbsolutePath().normalize().toString(); }

    private static double round(double ms) { return Math.round(ms * 1000.0) / 1000.0; }
}
