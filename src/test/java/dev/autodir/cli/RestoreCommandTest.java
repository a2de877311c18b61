package dev.autodir.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
    void progressNamesTheImagePassClassAndStep() throws IOException {
        Path in = TinyModel.png(dir.resolve("noise.png"), 20, 24, 10);
        MainTest.Result r = restore(in, "--steps", 2, "--max-passes", 2, "-o", dir.resolve("out"), "--progress-interval-ms", 0);
        assertEquals(0, r.code(), r.err());
        Pattern step = Pattern.compile("noise\\.png: pass [12]/2 \\[[a-z ]+ [01]\\.\\d\\d] step [12]/2");
        Pattern done = Pattern.compile("noise\\.png: pass [12]/2 \\[[a-z ]+ [01]\\.\\d\\d] (done in \\d+\\.\\d s|no degradation left, done)");
        List<String> lines = List.of(r.err().split("\\R"));
        assertTrue(lines.stream().anyMatch(l -> l.matches("noise\\.png: pass 1/2 \\[[a-z ]+ [01]\\.\\d\\d] step 2/2")), r.err());
        for (String l : lines) assertTrue(step.matcher(l).matches() || done.matcher(l).matches(), "unexpected progress line: " + l);
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
                "Default: 100", "Default: 42", "Default: png", "--overwrite", "--report=FILE", "--quiet")) {
            assertTrue(o.contains(s), "\"" + s + "\" not in restore --help:\n" + h.out());
        }
        assertFalse(o.contains("--progress-interval-ms"), "the test-only option stays hidden");
        MainTest.Result top = MainTest.run("--help");
        assertTrue(top.out().contains("restore") && top.out().contains("assess"), top.out());
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
