package dev.autodir.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.backend.cuda.CudaAvailability;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.engine.TinyModel;
import dev.autodir.image.Quantization;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.image.RgbImageWriter;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * {@code autodir restore} end to end on golden set A's tiny model (cpu backend): what it writes compared with the
 * engine called directly, the report, prompt mode, overwrite rules, batches with a bad file, flag validation.
 */
class RestoreCommandTest {
    /**
     * The engine agrees with itself to float rounding only (see AutoDIREngineTest.SAME_SEED_REL_L2), so a pixel can
     * land on the other side of a uint8 truncation step: written images may differ from the direct run by 1 level.
     */
    static final int LEVEL_TOLERANCE = 1;
    /** BIQA probabilities in the report vs the direct run (float32 softmax; runs differ by ~1e-7). */
    static final double PROBABILITY_TOLERANCE = 1e-5;

    private static AutoDIREngine engine;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir Path dir;

    @BeforeAll static void open() {
        TinyModel.assumePresent();
        engine = AutoDIREngine.open(TinyModel.settings());
    }

    @AfterAll static void close() {
        if (engine != null) engine.close();
    }

    /** The weights and config options, then {@code extra}. */
    static MainTest.Result restore(Object... extra) {
        List<String> args = new ArrayList<>(List.of("restore", "--weights", TinyModel.WEIGHTS.toString(),
                "--config", TinyModel.yaml().toString()));
        for (Object o : extra) args.add(o.toString());
        return MainTest.run(args.toArray(new String[0]));
    }

    @Test
    void restoreWritesTheFinalOutputThePassFilesUnderOfficialNamesAndAReport() throws IOException {
        Path in = TinyModel.png(Files.createDirectories(dir.resolve("in")).resolve("a.png"), 36, 44, 1);
        byte[] hashBefore = sha256(in);
        Path out = dir.resolve("out/sub");                       // missing: created
        Path report = dir.resolve("out/report.json");
        MainTest.Result r = restore(in, "--steps", 3, "--max-passes", 4, "-o", out, "--save-passes", "--report", report, "-q");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err(), "quiet: nothing on stderr");
        assertTrue(r.out().startsWith(in + " -> " + out.resolve("a_restored.png") + " ("), r.out());

        RestoreOptions options = RestoreOptions.defaults().withSteps(3).withMaxPasses(4);
        Restorer.Outcome expected = engine.restore(RgbImageReader.read(in).toTensor(), options, null);
        int n = expected.passes().size();
        assertTrue(n >= 2, "the tiny model should run several passes on this image, ran " + n);

        assertImageMatches(expected.finalImage(), out.resolve("a_restored.png"));
        Set<String> names = new TreeSet<>(List.of("a_restored.png"));
        for (int k = 0; k < n; k++) {
            assertImageMatches(expected.passes().get(k).decoded(), out.resolve("a_step_" + k + "_result.png"));
            assertImageMatches(expected.passes().get(k).result(), out.resolve("a_step_" + k + "_result_w_SCM.png"));
            names.add("a_step_" + k + "_result.png");
            names.add("a_step_" + k + "_result_w_SCM.png");
        }
        assertEquals(names, list(out), "exactly the final output and two files per pass, nothing left over");
        assertArrayEquals(hashBefore, sha256(in), "the input is unchanged");

        JsonNode rep = JSON.readTree(report.toFile());
        assertEquals("clip=cpu,vae=cpu,unet=cpu,scm=cpu", rep.path("backends").path("used").asText());
        for (String stage : List.of("clip", "vae", "unet", "scm")) {
            JsonNode st = rep.path("backends").path("stages").path(stage);
            assertEquals("cpu", st.path("requested").asText(), stage);
            assertEquals("cpu", st.path("backend").asText(), stage);
            assertEquals("fp32", st.path("precision").asText(), stage);
            assertTrue(st.path("fallback_reason").isNull(), stage + ": " + st);
        }
        assertEquals("fp32", rep.path("precision").path("requested").asText());
        assertEquals("fp32", rep.path("precision").path("used").asText());
        assertEquals("{name}_restored", rep.path("options").path("name_template").asText());
        assertEquals("8", rep.path("options").path("bit_depth").asText());
        assertEquals(3, rep.path("options").path("steps").asInt());
        assertEquals(4, rep.path("options").path("max_passes").asInt());
        assertEquals(42, rep.path("options").path("seed").asLong());
        assertEquals("automatic", rep.path("options").path("mode").asText());
        assertEquals(1, rep.path("restored").asInt());
        assertEquals(0, rep.path("failed").asInt());
        assertTrue(rep.path("total_ms").asDouble() > 0);
        assertEquals(1, rep.path("images").size());
        JsonNode img = rep.path("images").get(0);
        assertEquals("restored", img.path("status").asText());
        assertEquals(in.toAbsolutePath().toString(), img.path("input").asText());
        assertEquals(out.resolve("a_restored.png").toAbsolutePath().toString(), img.path("output").asText());
        assertEquals(44, img.path("width").asInt());
        assertEquals(36, img.path("height").asInt());
        assertEquals(expected.stopReason(), img.path("stop_reason").asText());
        assertTrue(img.path("total_ms").asDouble() > 0);
        if (expected.finalAssessment() != null) assertEquals("no", img.path("final_assessment").path("dominant").asText());

        JsonNode passes = img.path("passes");
        assertEquals(n, passes.size());
        List<String> remaining = new ArrayList<>(BIQA.CLASSES);
        for (int k = 0; k < n; k++) {
            JsonNode p = passes.get(k);
            Restorer.PassResult e = expected.passes().get(k);
            assertEquals(k, p.path("pass").asInt());
            List<String> keys = new ArrayList<>();
            p.path("probabilities").fieldNames().forEachRemaining(keys::add);
            assertEquals(remaining, keys, "pass " + k + ": a probability for every class still in the running, in order");
            double sum = 0, best = -1;
            String argmax = null;
            for (int c = 0; c < keys.size(); c++) {
                double prob = p.path("probabilities").path(keys.get(c)).asDouble();
                assertEquals(e.assessment().probability(c), prob, PROBABILITY_TOLERANCE, "pass " + k + " " + keys.get(c));
                sum += prob;
                if (prob > best) { best = prob; argmax = keys.get(c); }
            }
            assertEquals(1.0, sum, 1e-5, "pass " + k + ": probabilities sum to 1 (float32 softmax)");
            assertEquals(e.chosenClass(), p.path("chosen").asText(), "pass " + k + ": the chosen class is the engine's");
            assertEquals(argmax, p.path("chosen").asText(), "pass " + k + ": the chosen class is the most probable");
            assertEquals("low resolution".equals(e.chosenClass()) ? "vae_decode" : "scm_result", p.path("next_input").asText());
            JsonNode t = p.path("times_ms");
            double stages = 0;
            for (String stage : List.of("assess", "vae_encode", "sample", "vae_decode", "scm")) {
                assertTrue(t.path(stage).isNumber() && t.path(stage).asDouble() >= 0, "pass " + k + " time of " + stage + ": " + t);
                stages += t.path(stage).asDouble();
            }
            assertTrue(t.path("sample").asDouble() > 0, t.toString());
            assertEquals(stages, t.path("total").asDouble(), 0.01, "total = sum of the stages (each rounded to 1 µs)");
            JsonNode stepMs = p.path("step_ms");
            assertEquals(3, stepMs.size(), "one time per sampling step: " + p);
            double stepSum = 0;
            for (JsonNode x : stepMs) {
                assertTrue(x.asDouble() > 0, "step time " + x);
                stepSum += x.asDouble();
            }
            assertTrue(stepSum <= t.path("sample").asDouble() + 0.01, "the steps (" + stepSum + " ms) fit in the sampling time " + t);
            assertEquals(List.of(out.resolve("a_step_" + k + "_result.png").toAbsolutePath().toString(),
                    out.resolve("a_step_" + k + "_result_w_SCM.png").toAbsolutePath().toString()), texts(p.path("files")));
            remaining.remove(e.chosenClass());
        }
    }

    @Test
    void promptModeRunsExactlyOnePassWithoutBIQA() throws IOException {
        Path in = TinyModel.png(dir.resolve("a.png"), 30, 40, 2);
        Path out = dir.resolve("out");
        String prompt = "A photo needs haze artifact reduction";
        MainTest.Result r = restore(in, "--steps", 3, "-o", out, "--prompt", prompt, "--save-passes",
                "--report", dir.resolve("r.json"), "-q");
        assertEquals(0, r.code(), r.err());
        assertEquals(Set.of("a_restored.png", "a_step_0_result.png", "a_step_0_result_w_SCM.png"), list(out));

        Restorer.Outcome expected = engine.restore(RgbImageReader.read(in).toTensor(),
                RestoreOptions.defaults().withSteps(3).withPrompt(prompt), null);
        assertEquals(1, expected.passes().size());
        assertImageMatches(expected.finalImage(), out.resolve("a_restored.png"));

        JsonNode rep = JSON.readTree(dir.resolve("r.json").toFile());
        assertEquals("prompt", rep.path("options").path("mode").asText());
        assertEquals(prompt, rep.path("options").path("prompt").asText());
        JsonNode passes = rep.path("images").get(0).path("passes");
        assertEquals(1, passes.size());
        assertTrue(passes.get(0).path("probabilities").isNull(), "no BIQA in prompt mode");
        assertTrue(passes.get(0).path("chosen").isNull());
        assertEquals("prompt mode runs one pass", rep.path("images").get(0).path("stop_reason").asText());
    }

    @Test
    void colourCorrectionWritesCorrectedFilesBesideTheOfficialOnesAndCorrectsTheFinalOutput() throws IOException {
        Path in = TinyModel.png(dir.resolve("a.png"), 24, 32, 13);
        Path out = dir.resolve("out");
        MainTest.Result r = restore(in, "--steps", 2, "--max-passes", 2, "--color-correct", "adain", "--save-passes",
                "--format", "tiff", "-o", out, "--report", dir.resolve("r.json"), "-q");
        assertEquals(0, r.code(), r.err());
        JsonNode passes = JSON.readTree(dir.resolve("r.json").toFile()).path("images").get(0).path("passes");
        int n = passes.size();
        Set<String> names = new TreeSet<>(List.of("a_restored.tiff"));
        for (int k = 0; k < n; k++) {
            for (String suffix : List.of("_result.png", "_result_w_SCM.png", "_result_colorcorrect.png", "_result_w_SCM_colorcorrect.png")) {
                names.add("a_step_" + k + suffix);
            }
        }
        assertEquals(names, list(out));

        // AdaIN gives the corrected SCM result of pass 0 the input's per-channel means (to the uint8 quantisation)
        float[] input = RgbImageReader.read(in).toChwArray();
        float[] corrected = RgbImageReader.read(out.resolve("a_step_0_result_w_SCM_colorcorrect.png")).toChwArray();
        float[] plain = RgbImageReader.read(out.resolve("a_step_0_result_w_SCM.png")).toChwArray();
        int plane = input.length / 3;
        for (int c = 0; c < 3; c++) {
            double mIn = mean(input, c * plane, plane), mCorrected = mean(corrected, c * plane, plane), mPlain = mean(plain, c * plane, plane);
            // 0.02 in [-1, 1] units: truncation to uint8 shifts a mean by at most 2/255 ≈ 0.008, plus clamping
            assertEquals(mIn, mCorrected, 0.02, "channel " + c + " mean after AdaIN (uncorrected: " + mPlain + ")");
        }
        assertFalse(Arrays.equals(corrected, plain), "the correction changed the pixels");

        // the final output is the last pass's corrected image, the one the next pass would start from
        String last = passes.get(n - 1).path("chosen").asText();
        String finalSource = "a_step_" + (n - 1) + ("low resolution".equals(last) ? "_result_colorcorrect.png" : "_result_w_SCM_colorcorrect.png");
        assertArrayEquals(RgbImageReader.read(out.resolve(finalSource)).toChwArray(),
                RgbImageReader.read(out.resolve("a_restored.tiff")).toChwArray(), "a_restored.tiff = " + finalSource);
    }

    private static double mean(float[] x, int off, int n) {
        double s = 0;
        for (int i = off; i < off + n; i++) s += x[i];
        return s / n;
    }

    @Test
    void anExistingOutputIsKeptWithoutOverwriteAndReplacedWithIt() throws IOException {
        Path in = TinyModel.png(dir.resolve("a.png"), 24, 28, 3);
        Path out = Files.createDirectories(dir.resolve("out"));
        Path existing = Files.writeString(out.resolve("a_restored.png"), "keep me");

        MainTest.Result kept = restore(in, "--steps", 2, "--max-passes", 1, "-o", out, "-q");
        assertEquals(1, kept.code(), kept.err());
        assertTrue(kept.err().contains(existing.toString()) && kept.err().contains("already exists")
                && kept.err().contains("--overwrite"), kept.err());
        assertTrue(kept.err().contains("1 of 1 input failed"), kept.err());
        assertEquals("keep me", Files.readString(existing));
        assertEquals(Set.of("a_restored.png"), list(out), "nothing else written, no temporary file left");

        // with --save-passes, a pass file in the way stops the image too, before any work
        Path passDir = Files.createDirectories(dir.resolve("passes"));
        Path pass = Files.writeString(passDir.resolve("a_step_0_result_w_SCM.png"), "mine");
        MainTest.Result passKept = restore(in, "--steps", 2, "--max-passes", 1, "-o", passDir, "--save-passes", "-q");
        assertEquals(1, passKept.code(), passKept.err());
        assertTrue(passKept.err().contains(pass + ": already exists"), passKept.err());
        assertEquals(Set.of("a_step_0_result_w_SCM.png"), list(passDir));

        MainTest.Result replaced = restore(in, "--steps", 2, "--max-passes", 1, "-o", out, "--overwrite", "-q");
        assertEquals(0, replaced.code(), replaced.err());
        RgbImage written = RgbImageReader.read(existing);
        assertEquals(28, written.width());
        assertEquals(24, written.height());
        assertEquals(Set.of("a_restored.png"), list(out));

        // a report in the way is kept too, and the run refused before doing anything
        Path report = Files.writeString(dir.resolve("r.json"), "{}");
        MainTest.Result reportKept = restore(in, "--steps", 2, "-o", dir.resolve("out2"), "--report", report, "-q");
        assertEquals(1, reportKept.code());
        assertTrue(reportKept.err().contains("--report") && reportKept.err().contains("already exists"), reportKept.err());
        assertEquals("{}", Files.readString(report));
        assertFalse(Files.exists(dir.resolve("out2")));
    }

    @Test
    void aBatchGoesOnPastACorruptFileReportsItAtTheEndAndExitsNonZero() throws IOException {
        Path folder = Files.createDirectories(dir.resolve("in"));
        TinyModel.png(folder.resolve("a.png"), 20, 24, 4);
        Files.write(folder.resolve("b.png"), Arrays.copyOf(Files.readAllBytes(folder.resolve("a.png")), 60)); // truncated
        RgbImageWriter.write(TinyModel.image(22, 18, 5), folder.resolve("c.jpg"), RgbImageWriter.WriteOptions.DEFAULT);
        Files.writeString(folder.resolve("notes.txt"), "not an image");
        TinyModel.png(Files.createDirectories(folder.resolve("sub")).resolve("d.png"), 20, 20, 6);  // not recursive
        TinyModel.png(folder.resolve(".hidden.png"), 20, 20, 7);
        Path out = dir.resolve("out");

        MainTest.Result r = restore(folder, "--steps", 2, "--max-passes", 2, "-o", out, "--report", dir.resolve("r.json"), "-q");
        assertEquals(1, r.code(), r.err());
        assertEquals(Set.of("a_restored.png", "c_restored.png"), list(out));
        String[] lines = r.out().split("\\R");
        assertEquals(2, lines.length, r.out());
        assertTrue(lines[0].startsWith(folder.resolve("a.png") + " -> ") && lines[1].startsWith(folder.resolve("c.jpg") + " -> "), r.out());
        String[] errLines = r.err().split("\\R");
        assertTrue(errLines[0].startsWith("autodir: " + folder.resolve("b.png") + ": "), r.err());
        assertEquals("autodir: 1 of 3 inputs failed:", errLines[errLines.length - 2], r.err());
        assertTrue(errLines[errLines.length - 1].startsWith("autodir:   " + folder.resolve("b.png") + ": "), r.err());

        JsonNode images = JSON.readTree(dir.resolve("r.json").toFile()).path("images");
        assertEquals(List.of("restored", "failed", "restored"), texts(images.findValues("status")));
        assertTrue(images.get(1).path("error").asText().contains("b.png"), images.get(1).toString());
    }

    @Test
    void inputsAreNeverOverwrittenEvenWhenOutputsGoBesideThem() throws IOException {
        Path folder = Files.createDirectories(dir.resolve("in"));
        Path x = TinyModel.png(folder.resolve("x.png"), 20, 24, 8);
        Path y = TinyModel.png(folder.resolve("x_step_0_result.png"), 20, 24, 9);  // what x's first pass file would be
        byte[] hx = sha256(x), hy = sha256(y);

        MainTest.Result r = restore(folder, "--steps", 2, "--max-passes", 2, "-o", folder, "--save-passes", "--overwrite", "-q");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("x.png: its output " + y + " is an input of this batch"), r.err());
        assertArrayEquals(hx, sha256(x), "x.png unchanged");
        assertArrayEquals(hy, sha256(y), "x_step_0_result.png unchanged");
        // a file named like this command's output, in the output folder, is not restored again (nor written)
        assertTrue(r.err().contains("not restoring " + y + ": it is an output of this command in the output folder"), r.err());
        assertFalse(Files.exists(folder.resolve("x_step_0_result_restored.png")), list(folder).toString());
        assertFalse(Files.exists(folder.resolve("x_restored.png")));
    }

    @Test
    void progressNamesTheImagePassClassStageAndStepWithAnEstimateOfTheTimeLeft() throws IOException {
        Path in = TinyModel.png(dir.resolve("noise.png"), 20, 24, 10);
        MainTest.Result r = restore(in, "--steps", 2, "--max-passes", 2, "-o", dir.resolve("out"), "--progress-interval-ms", 0);
        assertEquals(0, r.code(), r.err());
        String tag = " \\[[a-z ]+ [01]\\.\\d\\d]";
        String eta = "(, (about|at least) \\d+(\\.\\d)? s left in this pass)?";
        Pattern stage = Pattern.compile("noise\\.png: pass [12]/2 assessing" + eta);
        Pattern step = Pattern.compile("noise\\.png: pass [12]/2" + tag + " (vae encode|sampling|step [12]/2|vae decode|scm)" + eta);
        Pattern done = Pattern.compile("noise\\.png: pass [12]/2" + tag + " (done in \\d+\\.\\d s|no degradation left, done)");
        List<String> lines = List.of(r.err().split("\\R"));
        for (String l : lines) {
            assertTrue(stage.matcher(l).matches() || step.matcher(l).matches() || done.matcher(l).matches(), "unexpected progress line: " + l);
        }
        // every stage of the first pass has its line (interval 0); after the first step the time left is known in
        // part (at least: decode and SCM were not timed yet), and in the second pass in full (about)
        for (String what : List.of("assessing", "vae encode", "sampling", "step 1/2", "step 2/2", "vae decode", "scm")) {
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("noise.png: pass 1/2") && l.contains(" " + what)), what + " missing:\n" + r.err());
        }
        assertTrue(lines.stream().anyMatch(l -> l.matches("noise\\.png: pass 1/2" + tag + " step 2/2, at least \\d+\\.\\d s left in this pass")), r.err());
        if (lines.stream().anyMatch(l -> l.startsWith("noise.png: pass 2/2") && l.contains("step 1/2"))) {
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("noise.png: pass 2/2") && l.contains("step 1/2, about ")), r.err());
        }
    }

    static Stream<Arguments> badFlags() {
        return Stream.of(
                Arguments.of("--steps", List.of("--steps", "0")),
                Arguments.of("--steps", List.of("--steps", "1001")),
                Arguments.of("--steps", List.of("--steps", "many")),
                Arguments.of("--cfg-text", List.of("--cfg-text", "NaN")),
                Arguments.of("--cfg-image", List.of("--cfg-image", "Infinity")),
                Arguments.of("--scm-weight", List.of("--scm-weight", "ten")),
                Arguments.of("--max-passes", List.of("--max-passes", "8")),
                Arguments.of("--max-passes", List.of("--max-passes", "0")),
                Arguments.of("--seed", List.of("--seed", "1.5")),
                Arguments.of("--format", List.of("--format", "gif")),
                Arguments.of("--color-correct", List.of("--color-correct", "sepia")),
                Arguments.of("--precision", List.of("--precision", "fp8")),
                Arguments.of("--backend", List.of("--backend", "unet=tpu")),
                Arguments.of("--backend", List.of("--backend", "gpu=cuda")),
                Arguments.of("--prompt", List.of("--prompt", "  ")),
                Arguments.of("--bit-depth", List.of("--bit-depth", "12")),
                Arguments.of("--bit-depth", List.of("--bit-depth", "16", "--format", "jpg")),
                Arguments.of("--jpeg-quality", List.of("--jpeg-quality", "90")),
                Arguments.of("--jpeg-quality", List.of("--jpeg-quality", "0", "--format", "jpg")),
                Arguments.of("--jpeg-quality", List.of("--jpeg-quality", "101", "--format", "jpg")),
                Arguments.of("--name-template", List.of("--name-template", "restored")),
                Arguments.of("--name-template", List.of("--name-template", "out/{name}")),
                Arguments.of("--name-template", List.of("--name-template", "{name}_{ext}")),
                Arguments.of("--suffix", List.of("--suffix", "/x")),
                Arguments.of("--suffix", List.of("--suffix", "_a", "--name-template", "{name}_b")),
                Arguments.of("--config", List.of("--config", "absent.yaml")),
                Arguments.of("--tokenizer", List.of("--tokenizer", "absent-vocab")),
                Arguments.of("--bogus", List.of("--bogus")));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("badFlags")
    void badFlagsExitTwoNamingTheFlagBeforeLoadingAnything(String flag, List<String> flagArgs) throws IOException {
        // the weights are junk: had they been loaded, the run would fail with exit 1 instead
        Path junk = Files.writeString(dir.resolve("junk.ckpt"), "not a checkpoint");
        Path in = TinyModel.png(dir.resolve("a.png"), 16, 16, 11);
        List<String> args = new ArrayList<>(List.of("restore", in.toString(), "--weights", junk.toString(), "-o", dir.resolve("out").toString()));
        args.addAll(flagArgs);
        MainTest.Result r = MainTest.run(args.toArray(new String[0]));
        assertUsageError(r, flag);
        assertFalse(Files.exists(dir.resolve("out")), "nothing created");
    }

    @Test
    void missingWeightsAndAnOutputThatIsAFileAreUsageErrors() throws IOException {
        Path in = TinyModel.png(dir.resolve("a.png"), 16, 16, 12);
        assertUsageError(MainTest.run("restore", in.toString()), "--weights");
        assertUsageError(MainTest.run("restore", in.toString(), "--weights", dir.resolve("absent.ckpt").toString()), "--weights");
        assertUsageError(restore(in, "-o", in), "-o");
        assertUsageError(MainTest.run("restore", "--weights", TinyModel.WEIGHTS.toString()), "IMAGE|FOLDER");
    }

    @Test
    void helpDocumentsOutputsDefaultsAndTheOfficialScriptsGuidance() {
        MainTest.Result h = MainTest.run("restore", "--help");
        assertEquals(0, h.code());
        String o = h.out().replaceAll("\\s+", " ");
        for (String s : List.of("Usage: autodir restore", "DIR/NAME_restored.<ext>", "NAME_step_K_result.png",
                "NAME_step_K_result_w_SCM.png", "official script's own default is 7.5", "official script's own default is 1.5",
                "Default: 100", "Default: 42", "Default: png", "--overwrite", "--report=FILE", "--quiet", "--strict-backend",
                "--bit-depth=8|16|input", "--jpeg-quality=1..100", "--suffix=TEXT", "--name-template=TEMPLATE",
                "(noise_png, noise_tiff)", "AUTODIR_DEBUG=1")) {
            assertTrue(o.contains(s), "\"" + s + "\" not in restore --help:\n" + h.out());
        }
        assertFalse(o.contains("--progress-interval-ms"), "the test-only option stays hidden");
        MainTest.Result top = MainTest.run("--help");
        assertTrue(top.out().contains("restore") && top.out().contains("assess"), top.out());
    }

    @Test
    void inputsSharingANameGetDistinctOutputsByTheDocumentedRule() throws IOException {
        Path one = Files.createDirectories(dir.resolve("one")), two = Files.createDirectories(dir.resolve("two"));
        Path png = TinyModel.png(one.resolve("noise.png"), 20, 24, 21);
        Path tiff = RgbImageWriter.write(TinyModel.image(20, 24, 22), one.resolve("noise.tiff"), RgbImageWriter.WriteOptions.DEFAULT);
        Path again = TinyModel.png(two.resolve("noise.png"), 20, 24, 23);
        Path out = dir.resolve("out");
        MainTest.Result r = restore(one, again, "--steps", 2, "--max-passes", 1, "-o", out, "--save-passes", "-q");
        assertEquals(0, r.code(), r.err());
        Set<String> expected = new TreeSet<>();
        for (String name : List.of("noise_png", "noise_tiff", "noise_png_2")) {
            expected.addAll(List.of(name + "_restored.png", name + "_step_0_result.png", name + "_step_0_result_w_SCM.png"));
        }
        assertEquals(expected, list(out));
        List<String> lines = List.of(r.out().split("\\R"));
        assertTrue(lines.get(0).startsWith(png + " -> " + out.resolve("noise_png_restored.png")), r.out());
        assertTrue(lines.get(1).startsWith(tiff + " -> " + out.resolve("noise_tiff_restored.png")), r.out());
        assertTrue(lines.get(2).startsWith(again + " -> " + out.resolve("noise_png_2_restored.png")), r.out());
        // each output is its own input's restoration
        RestoreOptions options = RestoreOptions.defaults().withSteps(2).withMaxPasses(1);
        assertImageMatches(engine.restore(RgbImageReader.read(tiff).toTensor(), options, null).finalImage(), out.resolve("noise_tiff_restored.png"));
        assertImageMatches(engine.restore(RgbImageReader.read(again).toTensor(), options, null).finalImage(), out.resolve("noise_png_2_restored.png"));
    }

    @Test
    void suffixAndNameTemplateNameTheFinalOutput() throws IOException {
        Path in = TinyModel.png(dir.resolve("a.png"), 16, 20, 24);
        MainTest.Result r = restore(in, "--steps", 1, "--max-passes", 1, "-o", dir.resolve("s"), "--suffix", "_clean", "-q");
        assertEquals(0, r.code(), r.err());
        assertEquals(Set.of("a_clean.png"), list(dir.resolve("s")));
        r = restore(in, "--steps", 1, "--max-passes", 1, "-o", dir.resolve("t"), "--name-template", "restored_{name}", "--save-passes",
                "--format", "tiff", "-q");
        assertEquals(0, r.code(), r.err());
        assertEquals(Set.of("restored_a.tiff", "a_step_0_result.png", "a_step_0_result_w_SCM.png"), list(dir.resolve("t")),
                "the template names the final output; pass files keep the official names");
        r = restore(in, "--steps", 1, "--max-passes", 1, "-o", dir.resolve("e"), "--suffix", "", "-q");
        assertEquals(0, r.code(), r.err());
        assertEquals(Set.of("a.png"), list(dir.resolve("e")));
    }

    @Test
    void bitDepth16WritesSixteenBitPngAndTiffAndTheDefaultStaysEightBit() throws IOException {
        Path in = RgbImageWriter.write(TinyModel.image(24, 28, 25), dir.resolve("deep.png"), RgbImageWriter.WriteOptions.DEFAULT.withBitDepth(16));
        assertEquals(16, RgbImageReader.read(in).sourceBitDepth());
        RestoreOptions options = RestoreOptions.defaults().withSteps(2).withMaxPasses(1);
        FloatTensor expected = engine.restore(RgbImageReader.read(in).toTensor(), options, null).finalImage();

        assertEquals(0, restore(in, "--steps", 2, "--max-passes", 1, "-o", dir.resolve("p"), "--bit-depth", "16", "-q").code());
        assertEquals(0, restore(in, "--steps", 2, "--max-passes", 1, "-o", dir.resolve("t"), "--bit-depth", "input", "--format", "tiff",
                "--report", dir.resolve("r.json"), "-q").code());
        assertEquals(0, restore(in, "--steps", 2, "--max-passes", 1, "-o", dir.resolve("d"), "-q").code());
        for (Path file : List.of(dir.resolve("p/deep_restored.png"), dir.resolve("t/deep_restored.tiff"))) {
            RgbImage img = RgbImageReader.read(file);
            assertEquals(16, img.sourceBitDepth(), file.toString());
            float[] got = img.toChwArray(), want = expected.data();
            double worst = 0;
            int notEightBit = 0, inside = 0;
            for (int i = 0; i < got.length; i++) {
                worst = Math.max(worst, Math.abs(got[i] - Quantization.fromUint16(Quantization.toUint16(want[i]))));
                int level = Quantization.toUint16(got[i]);
                if (level == 0 || level == 65535) continue;                    // clamped: both 8- and 16-bit extremes
                inside++;
                if (level % 257 != 0) notEightBit++;
            }
            // 1e-3 in [-1, 1] units is 33 16-bit levels (same-seed runs differ by float rounding, ~1e-6), well under
            // one 8-bit step (2/255 = 7.8e-3): the file keeps the 16-bit values
            assertTrue(worst <= 1e-3, file + ": worst difference " + worst);
            // a 16-bit level v is an 8-bit one when v % 257 == 0: by chance 1 in 257
            assertTrue(inside > 100 && notEightBit > 0.9 * inside, file + ": " + notEightBit + " of " + inside
                    + " unclamped samples are off the 8-bit levels");
        }
        assertEquals(8, RgbImageReader.read(dir.resolve("d/deep_restored.png")).sourceBitDepth(), "the default writes 8 bits");
        assertEquals("input", JSON.readTree(dir.resolve("r.json").toFile()).path("options").path("bit_depth").asText());
    }

    @Test
    void jpegQualityTradesSizeForError() throws IOException {
        Path in = TinyModel.png(dir.resolve("a.png"), 48, 48, 26);
        RestoreOptions options = RestoreOptions.defaults().withSteps(2).withMaxPasses(1);
        FloatTensor expected = engine.restore(RgbImageReader.read(in).toTensor(), options, null).finalImage();
        assertEquals(0, restore(in, "--steps", 2, "--max-passes", 1, "-o", dir.resolve("lo"), "--format", "jpg", "--jpeg-quality", 20,
                "--report", dir.resolve("r.json"), "-q").code());
        assertEquals(0, restore(in, "--steps", 2, "--max-passes", 1, "-o", dir.resolve("hi"), "--format", "jpg", "--jpeg-quality", 98, "-q").code());
        Path lo = dir.resolve("lo/a_restored.jpg"), hi = dir.resolve("hi/a_restored.jpg");
        assertTrue(Files.size(lo) < Files.size(hi), "quality 20: " + Files.size(lo) + " bytes, 98: " + Files.size(hi));
        double errLo = RgbImageReader.read(lo).toTensor().relL2(expected), errHi = RgbImageReader.read(hi).toTensor().relL2(expected);
        assertTrue(errLo > errHi, "rel L2 against the restored image: quality 20 " + errLo + ", quality 98 " + errHi);
        assertEquals(20, JSON.readTree(dir.resolve("r.json").toFile()).path("options").path("jpeg_quality").asInt());
    }

    @Test
    void strictBackendFailsWithOneLineWhereCudaCannotStart() throws IOException {
        assumeFalse(CudaAvailability.usable(), "a GPU is usable here: no fallback to provoke");
        Path in = TinyModel.png(dir.resolve("a.png"), 16, 16, 27);
        MainTest.Result r = restore(in, "--steps", 1, "-o", dir.resolve("out"), "--backend", "cuda", "--strict-backend", "-q");
        assertEquals(1, r.code(), r.err());
        String[] lines = r.err().split("\\R");
        assertEquals(1, lines.length, r.err());
        assertTrue(lines[0].startsWith("autodir: strict backend, no fallback: cuda backend unavailable for stages clip, vae, unet, scm ("
                + CudaAvailability.unavailableReason()), lines[0]);
        assertFalse(Files.exists(dir.resolve("out/a_restored.png")));
    }

    @Test
    void withoutStrictBackendTheReportSaysWhatEachStageReallyRanOn() throws IOException {
        assumeFalse(CudaAvailability.usable(), "a GPU is usable here: no fallback to provoke");
        Path in = TinyModel.png(dir.resolve("a.png"), 16, 16, 28);
        Path report = dir.resolve("r.json");
        MainTest.Result r = restore(in, "--steps", 1, "--max-passes", 1, "-o", dir.resolve("out"), "--backend", "unet=cuda,vae=cuda",
                "--precision", "fp16", "--report", report, "-q");
        assertEquals(0, r.code(), r.err());
        assertEquals(List.of("autodir: cuda backend unavailable for stages vae, unet (" + CudaAvailability.unavailableReason()
                        + "); they run on cpu in fp32",
                "autodir: precision fp16 was asked for, but no stage runs on a backend that offers it (clip=cpu,vae=cpu,unet=cpu,scm=cpu;"
                        + " the cpu backend computes in fp32 only)"), List.of(r.err().split("\\R")));
        JsonNode rep = JSON.readTree(report.toFile());
        assertEquals("clip=cpu,vae=cuda,unet=cuda,scm=cpu", rep.path("backends").path("requested").asText());
        assertEquals("clip=cpu,vae=cpu,unet=cpu,scm=cpu", rep.path("backends").path("used").asText());
        assertEquals("fp16", rep.path("precision").path("requested").asText());
        assertEquals("fp32", rep.path("precision").path("used").asText());
        for (String stage : List.of("vae", "unet")) {
            JsonNode st = rep.path("backends").path("stages").path(stage);
            assertEquals(List.of("cuda", "cpu", "fp32", CudaAvailability.unavailableReason()),
                    List.of(st.path("requested").asText(), st.path("backend").asText(), st.path("precision").asText(),
                            st.path("fallback_reason").asText()), stage);
        }
        JsonNode clip = rep.path("backends").path("stages").path("clip");
        assertEquals("cpu", clip.path("requested").asText());
        assertTrue(clip.path("fallback_reason").isNull(), clip.toString());
    }

    @Test
    void debugAddsTheStackTraceOfAPerImageFailure() throws IOException {
        Path folder = Files.createDirectories(dir.resolve("in"));
        TinyModel.png(folder.resolve("a.png"), 16, 16, 29);
        Files.write(folder.resolve("b.png"), Arrays.copyOf(Files.readAllBytes(folder.resolve("a.png")), 60)); // truncated
        MainTest.Result plain = restore(folder, "--steps", 1, "--max-passes", 1, "-o", dir.resolve("o1"), "-q");
        assertEquals(1, plain.code());
        assertFalse(plain.err().contains("\tat "), plain.err());
        System.setProperty("autodir.debug", "true");
        MainTest.Result debug;
        try {
            debug = restore(folder, "--steps", 1, "--max-passes", 1, "-o", dir.resolve("o2"), "-q");
        } finally {
            System.clearProperty("autodir.debug");
        }
        assertEquals(1, debug.code());
        assertTrue(debug.err().contains("ImageFileException") && debug.err().contains("\tat dev.autodir.image.RgbImageReader.read"), debug.err());
        assertTrue(debug.err().contains("autodir: 1 of 2 inputs failed:"), debug.err());
    }

    // ---------------------------------------------------------------- helpers

    static void assertUsageError(MainTest.Result r, String flag) {
        assertEquals(2, r.code(), r.err());
        assertEquals("", r.out());
        String[] lines = r.err().split("\\R");
        assertEquals(1, lines.length, r.err());
        assertTrue(lines[0].startsWith("autodir: ") && lines[0].contains(flag), "\"" + flag + "\" not in: " + lines[0]);
    }

    /** The written image equals the engine's tensor quantised as the official script does, within LEVEL_TOLERANCE. */
    static void assertImageMatches(FloatTensor expected, Path file) {
        RgbImage img = RgbImageReader.read(file);
        assertEquals(expected.dim(2), img.height(), file + " height");
        assertEquals(expected.dim(3), img.width(), file + " width");
        float[] e = expected.data(), got = img.toChwArray();
        int worst = 0, at = -1, differing = 0;
        for (int i = 0; i < e.length; i++) {
            int want = Quantization.toUint8(e[i]);
            int have = Math.round((got[i] + 1f) * 255f / 2f);
            int d = Math.abs(want - have);
            if (d > 0) differing++;
            if (d > worst) { worst = d; at = i; }
        }
        assertTrue(worst <= LEVEL_TOLERANCE, file + ": worst level difference " + worst + " at index " + at + " ("
                + differing + " of " + e.length + " samples differ)");
    }

    static Set<String> list(Path folder) throws IOException {
        Set<String> names = new TreeSet<>();
        try (Stream<Path> s = Files.list(folder)) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        }
        return names;
    }

    static List<String> texts(Iterable<JsonNode> nodes) {
        List<String> out = new ArrayList<>();
        for (Iterator<JsonNode> it = nodes.iterator(); it.hasNext(); ) out.add(it.next().asText());
        return out;
    }

    static byte[] sha256(Path file) throws IOException {
        try {
            return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

}
