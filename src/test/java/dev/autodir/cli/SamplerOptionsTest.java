package dev.autodir.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.engine.TinyModel;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.Sampler;
import dev.autodir.pipeline.SigmaSchedule;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --sampler, --schedule and --need-resize from the command line and through the Java API. */
class SamplerOptionsTest {
    private static AutoDIREngine engine;

    @TempDir Path dir;

    @BeforeAll static void open() { engine = AutoDIREngine.open(TinyModel.settings()); }

    @AfterAll static void close() { if (engine != null) engine.close(); }

    @Test
    void theCommandLineChoiceIsWhatTheApiComputes() throws IOException {
        Path in = TinyModel.png(dir.resolve("a.png"), 36, 44, 3);
        Path out = dir.resolve("out"), report = dir.resolve("r.json");
        MainTest.Result r = RestoreCommandTest.restore(in, "--steps", 3, "--max-passes", 1, "--sampler", "heun", "--schedule", "karras",
                "-o", out, "--report", report, "-q");
        assertEquals(0, r.code(), r.err());
        JsonNode opt = new ObjectMapper().readTree(report.toFile()).path("options");
        assertEquals("heun", opt.path("sampler").asText());
        assertEquals("karras", opt.path("schedule").asText());
        RestoreOptions o = RestoreOptions.defaults().withSteps(3).withMaxPasses(1).withSampler(Sampler.HEUN).withSchedule(SigmaSchedule.KARRAS);
        Restorer.Outcome expected = engine.restore(RgbImageReader.read(in).toTensor(), o, null);
        RestoreCommandTest.assertImageMatches(AutoDIREngine.finalOutput(expected, o), out.resolve("a_restored.png"));
    }

    /** Every sampler runs the whole loop; each gives its own result (they differ), and a run repeats (to float32 rounding). */
    @Test
    void everySamplerRunsThePipelineAndTheyDiffer() {
        FloatTensor image = TinyModel.image(36, 44, 5);
        Set<Integer> distinct = new HashSet<>();
        for (Sampler s : Sampler.values()) {
            RestoreOptions o = RestoreOptions.defaults().withSteps(4).withMaxPasses(1).withSampler(s);
            FloatTensor z = engine.restore(image, o, null).passes().get(0).z();
            FloatTensor again = engine.restore(image, o, null).passes().get(0).z();
            // the cpu backend is not yet bitwise reproducible run to run (issue 12, item 13): equal up to float32 rounding
            assertTrue(z.relL2(again) <= 1e-5, s + ": the same seed gives the same latent, rel-L2 " + z.relL2(again));
            distinct.add(java.util.Arrays.hashCode(z.data()));
        }
        assertEquals(Sampler.values().length, distinct.size(), "every sampler gives its own latent");
    }

    @Test
    void badChoicesAreUsageErrorsNamingTheFlag() throws IOException {
        Path in = TinyModel.png(dir.resolve("b.png"), 36, 44, 3);
        RestoreCommandTest.assertUsageError(RestoreCommandTest.restore(in, "--sampler", "lms", "-o", dir), "--sampler");
        RestoreCommandTest.assertUsageError(RestoreCommandTest.restore(in, "--schedule", "cosine", "-o", dir), "--schedule");
        RestoreCommandTest.assertUsageError(RestoreCommandTest.restore(in, "--sampler", "ddim", "--steps", 37, "-o", dir), "--steps");
        RestoreCommandTest.assertUsageError(RestoreCommandTest.restore(in, "--need-resize", "--resolution", 10, "-o", dir), "--resolution");
    }

    @Test
    void needResizeRestoresTheCentreSquare() throws IOException {
        Path in = TinyModel.png(dir.resolve("c.png"), 36, 44, 4);
        Path out = dir.resolve("out2");
        MainTest.Result r = RestoreCommandTest.restore(in, "--steps", 2, "--max-passes", 1, "--need-resize", "--resolution", 64, "-o", out, "-q");
        assertEquals(0, r.code(), r.err());
        RgbImage img = RgbImageReader.read(out.resolve("c_restored.png"));
        assertEquals(64, img.width());
        assertEquals(64, img.height());
        RestoreOptions o = RestoreOptions.defaults().withSteps(2).withMaxPasses(1).withResize(64);
        Restorer.Outcome expected = engine.restore(RgbImageReader.read(in).toTensor(), o, null);
        assertTrue(expected.passes().isEmpty() || expected.passes().get(0).result().dim(2) == 64);
        RestoreCommandTest.assertImageMatches(AutoDIREngine.finalOutput(expected, o), out.resolve("c_restored.png"));
    }
}
