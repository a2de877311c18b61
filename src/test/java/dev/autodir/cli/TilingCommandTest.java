package dev.autodir.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.engine.TinyModel;
import dev.autodir.image.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code restore --tiles/--tile-overlap/--memory-budget/--biqa-crops}: what they do and how bad values are refused. */
class TilingCommandTest {
    @TempDir Path dir;


    private MainTest.Result restore(Path image, String... extra) {
        List<String> args = new ArrayList<>(List.of("restore", image.toString(), "--weights", TinyModel.WEIGHTS.toString(),
                "--config", TinyModel.yaml().toString(), "--steps", "2", "--max-passes", "1", "-o", dir.resolve("out").toString(),
                "--progress-interval-ms", "0"));
        args.addAll(List.of(extra));
        return MainTest.run(args.toArray(new String[0]));
    }

    @Test void tiledRunReportsWhatWasTiledAndShowsTiles() throws IOException {
        Path img = TinyModel.png(dir.resolve("a.png"), 44, 60, 3);
        Path report = dir.resolve("r.json");
        MainTest.Result r = restore(img, "--tiles", "8", "--tile-overlap", "4", "--biqa-crops", "2", "--report", report.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("tiled: vae_encode"), r.err());
        assertTrue(r.err().contains("step 1/2 tile "), "progress per tile and step: " + r.err());
        assertTrue(r.err().contains("vae_decode sweep "), r.err());
        JsonNode root = new ObjectMapper().readTree(report.toFile());
        assertEquals("8", root.get("options").get("tiles").asText());
        assertEquals(2, root.get("options").get("biqa_crops").asInt());
        JsonNode t = root.get("images").get(0).get("tiling");
        for (String stage : List.of("vae_encode", "sample", "vae_decode", "scm")) assertTrue(t.get(stage).get("tiled").asBoolean(), stage + ": " + t);
        assertTrue(t.get("sample").get("how").asText().contains("latent tiles of 8×8"), t.toString());
        assertEquals("2x2 grid of 224 crops", t.get("biqa_crops").asText());
        RgbImage out = RgbImage.read(dir.resolve("out/a_restored.png"));
        assertEquals(60, out.width());
        assertEquals(44, out.height());
    }

    @Test void smallImagesAreNotTiledByDefault() throws IOException {
        Path img = TinyModel.png(dir.resolve("b.png"), 20, 24, 1);
        Path report = dir.resolve("r.json");
        MainTest.Result r = restore(img, "--report", report.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode t = new ObjectMapper().readTree(report.toFile()).get("images").get(0).get("tiling");
        for (String stage : List.of("vae_encode", "sample", "vae_decode", "scm")) assertFalse(t.get(stage).get("tiled").asBoolean(), stage);
        assertFalse(r.err().contains("tiled:"), r.err());
    }

    @Test void badValuesAreUsageErrorsNamingTheFlag() throws IOException {
        Path img = TinyModel.png(dir.resolve("c.png"), 20, 24, 1);
        String[][] cases = {
                {"--tiles", "lots", "--tiles"},
                {"--tiles", "4", "--tiles"},
                {"--tile-overlap", "64", "--tile-overlap"},
                {"--memory-budget", "12 apples", "--memory-budget"},
                {"--biqa-crops", "0", "--biqa-crops"}};
        for (String[] c : cases) {
            MainTest.Result r = restore(img, c[0], c[1]);
            assertEquals(2, r.code(), c[0] + " " + c[1] + ": " + r.err());
            assertTrue(r.err().contains(c[2]), c[0] + " " + c[1] + ": " + r.err());
        }
    }

    @Test void aBudgetThatCannotBeMetIsRefusedBeforeWork() throws IOException {
        Path img = TinyModel.png(dir.resolve("d.png"), 20, 24, 1);
        MainTest.Result r = restore(img, "--memory-budget", "1m");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("does not fit the memory budget of 0.0 GiB"), r.err());
        assertFalse(Files.exists(dir.resolve("out/d_restored.png")));
    }
}
