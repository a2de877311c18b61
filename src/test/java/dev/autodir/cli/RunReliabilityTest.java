package dev.autodir.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.engine.TinyModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Broken inputs and interrupted runs of {@code autodir restore} and {@code inspect} (issue 12, items 8-12). */
class RunReliabilityTest {
    @TempDir Path dir;

    private static MainTest.Result restore(Path weights, Object... extra) {
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("restore", "--weights", weights.toString(),
                "--config", TinyModel.yaml().toString(), "--steps", "2", "--max-passes", "2"));
        for (Object o : extra) args.add(o.toString());
        return MainTest.run(args.toArray(new String[0]));
    }

    /** A copy of the tiny model's weights with {@code value} written into the first element of {@code key}. */
    private Path poisoned(String key, float value) throws IOException {
        byte[] b = Files.readAllBytes(TinyModel.WEIGHTS);
        long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode header = new ObjectMapper().readTree(new String(b, 8, (int) n, StandardCharsets.UTF_8));
        JsonNode t = header.get(key);
        assertEquals("F32", t.get("dtype").asText(), key);
        int at = (int) (8 + n + t.get("data_offsets").get(0).asLong());
        ByteBuffer.wrap(b, at, 4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value);
        return Files.write(dir.resolve("poisoned-" + key.hashCode() + ".safetensors"), b);
    }

    /** A PNG whose header says width x height (its pixel data is a 1x1 image's: only the header is read). */
    private Path pngHeader(Path file, int width, int height) throws IOException {
        TinyModel.png(file, 1, 1, 3);
        byte[] b = Files.readAllBytes(file);
        ByteBuffer bb = ByteBuffer.wrap(b);                     // IHDR: length(4) "IHDR"(4) at 8, width at 16, height at 20
        bb.putInt(16, width).putInt(20, height);
        CRC32 crc = new CRC32();
        crc.update(b, 12, 17);
        bb.putInt(29, (int) crc.getValue());
        return Files.write(file, b);
    }

    // ---- item 8 -------------------------------------------------------------------------------------------

    @Test
    void anImageTooLargeForTheHeapIsRefusedBeforeWorkAndTheBatchGoesOn() throws IOException {
        Path in = Files.createDirectories(dir.resolve("in"));
        Path big = pngHeader(in.resolve("a-big.png"), 16384, 6100);   // just under the pixel limit
        TinyModel.png(in.resolve("b.png"), 20, 24, 1);
        // untiled (with tiling the plan would split it into tiles that fit)
        MainTest.Result r = restore(TinyModel.WEIGHTS, in, "-o", dir.resolve("out"), "-q", "--tiles", "off");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains(big + ": an image of 16384x6100 needs about") && r.err().contains("this JVM's heap may grow to"), r.err());
        assertTrue(r.err().contains("autodir: 1 of 2 inputs failed:"), r.err());
        assertTrue(Files.exists(dir.resolve("out/b_restored.png")), "the batch went on to b.png");
    }

    // ---- item 9 -------------------------------------------------------------------------------------------

    @Test
    void aNaNWeightStopsTheImageNamingTheStageAndNothingIsWritten() throws IOException {
        Path img = TinyModel.png(Files.createDirectories(dir.resolve("in")).resolve("x.png"), 20, 24, 2);
        String[][] cases = {
                {"model.diffusion_model.out.2.bias", "the UNet (sampling) produced NaN"},
                {"first_stage_model.decoder.conv_out.bias", "the VAE decoder produced NaN"},
                {"model_assessment.clipmodel.visual_projection.weight", "BIQA (CLIP) probabilities produced NaN"}};
        for (String[] c : cases) {
            Path out = dir.resolve("out-" + c[0].hashCode());
            MainTest.Result r = restore(poisoned(c[0], Float.NaN), img, "-o", out, "--save-passes", "-q");
            assertEquals(1, r.code(), r.err());
            assertTrue(r.err().contains(c[1]) && r.err().contains("nothing written"), c[0] + ": " + r.err());
            assertFalse(r.err().contains("internal error"), r.err());
            assertFalse(Files.exists(out.resolve("x_restored.png")), "no black image for " + c[0]);
        }
        // an infinity is stopped the same way
        MainTest.Result inf = restore(poisoned("first_stage_model.decoder.conv_out.bias", Float.POSITIVE_INFINITY), img, "-o",
                dir.resolve("out-inf"), "-q");
        assertTrue(inf.err().contains("the VAE decoder produced infinity"), inf.err());
    }

    @Test
    void inspectScanReportsNonFiniteWeights() throws IOException {
        Path w = poisoned("model.diffusion_model.out.2.bias", Float.NEGATIVE_INFINITY);
        MainTest.Result clean = MainTest.run("inspect", TinyModel.WEIGHTS.toString(), "--config", TinyModel.yaml().toString(), "--scan");
        assertEquals(0, clean.code(), clean.err());
        assertTrue(clean.out().contains("float tensors read, 0 with NaN or infinite values"), clean.out());
        MainTest.Result bad = MainTest.run("inspect", w.toString(), "--config", TinyModel.yaml().toString(), "--scan");
        assertEquals(1, bad.code(), bad.err());
        assertTrue(bad.out().contains("model.diffusion_model.out.2.bias  0 NaN, 0 +inf, 1 -inf of"), bad.out());
        assertTrue(bad.err().contains("1 tensor holds NaN or infinite values, the first model.diffusion_model.out.2.bias"), bad.err());
    }

    // ---- item 10 ------------------------------------------------------------------------------------------

    @Test
    void staleTemporaryFilesAreRemovedAndSkipExistingResumes() throws IOException {
        Path in = Files.createDirectories(dir.resolve("in"));
        TinyModel.png(in.resolve("x.png"), 20, 24, 4);
        TinyModel.png(in.resolve("y.png"), 20, 24, 5);
        Path out = Files.createDirectories(dir.resolve("out"));
        Path dead = Files.writeString(out.resolve(".x_restored.png.autodir-2147483646-1f2e.tmp"), "half a png");
        Path old = Files.writeString(out.resolve(".y_restored.png.8c1d2e3f4a5b6c7d.tmp"), "half a png");
        Path mine = Files.writeString(out.resolve(".notes.tmp"), "the user's own");
        Path live = Files.writeString(out.resolve(".z.png.autodir-" + ProcessHandle.current().pid() + "-1.tmp"), "a write in progress");

        // a first run restores x only (y's output is in the way), as if the batch had been stopped after x
        Files.writeString(out.resolve("y_restored.png"), "not yet");
        MainTest.Result first = restore(TinyModel.WEIGHTS, in, "-o", out);
        assertEquals(1, first.code(), first.err());
        assertTrue(first.err().contains("removed " + dead) && first.err().contains("removed " + old), first.err());
        assertFalse(Files.exists(dead) || Files.exists(old));
        assertTrue(Files.exists(mine) && Files.exists(live), "only stale files of ours are removed");
        assertTrue(first.err().contains("or --skip-existing to resume"), first.err());

        byte[] x = Files.readAllBytes(out.resolve("x_restored.png"));
        Files.delete(out.resolve("y_restored.png"));
        MainTest.Result resumed = restore(TinyModel.WEIGHTS, in, "-o", out, "--skip-existing");
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.err().contains("skipping " + in.resolve("x.png") + ": its output"), resumed.err());
        assertTrue(resumed.err().contains("1 restored, 1 skipped (output exists), 0 failed"), resumed.err());
        assertArrayEquals(x, Files.readAllBytes(out.resolve("x_restored.png")), "a skipped output is untouched");
        assertTrue(Files.exists(out.resolve("y_restored.png")));
        assertEquals(2, MainTest.run("restore", "--weights", TinyModel.WEIGHTS.toString(), in.toString(), "--overwrite",
                "--skip-existing").code());
    }

    // ---- item 11 ------------------------------------------------------------------------------------------

    @Test
    void aReportOverAnOutputImageAndOutputsTakenAsInputsAreRefused() throws IOException {
        Path folder = Files.createDirectories(dir.resolve("photos"));
        TinyModel.png(folder.resolve("x.png"), 20, 24, 6);
        assertEquals(0, restore(TinyModel.WEIGHTS, folder, "-o", folder, "-q").code());
        byte[] restored = Files.readAllBytes(folder.resolve("x_restored.png"));

        MainTest.Result r = restore(TinyModel.WEIGHTS, folder.resolve("x.png"), "-o", folder, "--overwrite", "--report",
                folder.resolve("x_restored.png"));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("is also an output image of this batch; the JSON would replace the image"), r.err());
        assertArrayEquals(restored, Files.readAllBytes(folder.resolve("x_restored.png")));

        // the folder is both input and output: x_restored.png is not restored again
        MainTest.Result again = restore(TinyModel.WEIGHTS, folder, "-o", folder, "--skip-existing");
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("not restoring " + folder.resolve("x_restored.png") + ": it is an output of this command"), again.err());
        assertFalse(Files.exists(folder.resolve("x_restored_restored.png")));
    }

    // ---- item 12 ------------------------------------------------------------------------------------------

    @Test
    void outOfRangeScalesAndANonVocabularyTokenizerAreClearErrors() throws IOException {
        Path img = TinyModel.png(Files.createDirectories(dir.resolve("in")).resolve("x.png"), 20, 24, 7);
        MainTest.Result cfg = restore(TinyModel.WEIGHTS, img, "--cfg-image", "-1e30");
        assertEquals(2, cfg.code(), cfg.err());
        assertTrue(cfg.err().contains("--cfg-image must be in 0..50.0, got -1.0E30"), cfg.err());
        assertEquals(2, restore(TinyModel.WEIGHTS, img, "--scm-weight", "NaN").code());

        Path notVocab = Files.writeString(dir.resolve("vocab.txt"), "hello world\n");
        MainTest.Result tok = restore(TinyModel.WEIGHTS, img, "--tokenizer", notVocab, "-o", dir.resolve("out"));
        assertEquals(1, tok.code(), tok.err());
        assertTrue(tok.err().startsWith("autodir: " + notVocab + ": "), tok.err());
        assertFalse(tok.err().contains("internal error"), tok.err());
    }
}
