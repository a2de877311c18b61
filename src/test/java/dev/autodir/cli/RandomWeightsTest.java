package dev.autodir.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --weights random:tiny}: README command 1 on a clone with nothing beside it. */
class RandomWeightsTest {
    @TempDir Path dir;

    /** The tiny model keeps the official structure: only widths and counts are cut. */
    @Test
    void theTinyConfigHasTheOfficialStructure() {
        AutoDIRConfig tiny = AutoDIRConfig.tiny(), official = AutoDIRConfig.official();
        assertEquals(official.unet().channelMult(), tiny.unet().channelMult());
        assertEquals(official.unet().attentionLevels(), tiny.unet().attentionLevels());
        assertEquals(official.unet().numResBlocks(), tiny.unet().numResBlocks());
        assertEquals(official.unet().inChannels(), tiny.unet().inChannels());
        assertEquals(official.vae().chMult(), tiny.vae().chMult());
        assertEquals(official.clipText().vocabSize(), tiny.clipText().vocabSize(), "the real vocabulary: no id folding");
        assertEquals(official.clipVision().imageSize(), tiny.clipVision().imageSize());
        assertEquals(official.clipVision().patchSize(), tiny.clipVision().patchSize());
        assertEquals(official.nafnet().padMultiple(), tiny.nafnet().padMultiple());
        assertEquals(tiny.clipText().hidden(), tiny.unet().contextDim(), "the UNet is conditioned on the text tower's width");
        try (AutoDIRModels m = AutoDIRModels.load(Path.of("random:tiny"), ModelYaml.none())) {
            assertEquals(64, m.sizeMultiple());
            assertEquals(tiny.unet(), m.config().unet());
            assertEquals(tiny.vae(), m.config().vae());
            assertEquals(tiny.clipText(), m.config().clipText());
            assertEquals(tiny.clipVision(), m.config().clipVision());
            assertEquals(tiny.nafnet(), m.config().nafnet());
        }
    }

    /** README command 1: the example image through the whole pipeline; the file is what the Java API computes. */
    @Test
    void restoreWithRandomTinyWritesTheRestoredImage() throws IOException {
        Path in = Path.of("examples", "noisy-96.png");
        Path out = dir.resolve("out"), report = dir.resolve("report.json");
        MainTest.Result r = MainTest.run("restore", in.toString(), "--weights", "random:tiny", "--steps", "4", "--max-passes", "2",
                "-o", out.toString(), "--report", report.toString(), "-q");
        assertEquals(0, r.code(), r.err());
        Path written = out.resolve("noisy-96_restored.png");
        RgbImage img = RgbImageReader.read(written);
        assertEquals(96, img.width());
        assertEquals(96, img.height());
        assertEquals("random:tiny", new ObjectMapper().readTree(report.toFile()).path("weights").asText());
        try (AutoDIREngine engine = AutoDIREngine.open(AutoDIREngine.Settings.of(Path.of("random:tiny")))) {
            Restorer.Outcome o = engine.restore(RgbImageReader.read(in).toTensor(),
                    RestoreOptions.defaults().withSteps(4).withMaxPasses(2), null);
            assertTrue(o.passes().size() >= 1, "BIQA of the random model stopped before any pass: " + o.stopReason());
            RestoreCommandTest.assertImageMatches(AutoDIREngine.finalOutput(o, RestoreOptions.defaults()), written);
        }
    }

    @Test
    void badRandomSpecsAreUsageErrors() throws IOException {
        Path img = Path.of("examples", "noisy-96.png");
        RestoreCommandTest.assertUsageError(MainTest.run("restore", img.toString(), "--weights", "random:huge", "-o", dir.toString()),
                "--weights");
        Path yaml = Files.writeString(dir.resolve("c.yaml"), "model: {}\n");
        RestoreCommandTest.assertUsageError(MainTest.run("restore", img.toString(), "--weights", "random:tiny", "--config", yaml.toString(),
                "-o", dir.toString()), "--config");
        assertThrows(IllegalArgumentException.class, () -> RandomWeightStore.specConfig(Path.of("random:")));
        assertEquals(List.of(), List.of(dir.toFile().list()).stream().filter(n -> n.endsWith(".png")).toList(), "nothing written");
    }
}
