package dev.autodir.cli;

import dev.autodir.backend.Precision;
import dev.autodir.engine.TinyModel;
import dev.autodir.pipeline.ColorCorrection;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Sampler;
import dev.autodir.pipeline.SigmaSchedule;
import dev.autodir.pipeline.tiling.TilingOptions;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The restore command's flags as key/value strings: the command's names, defaults, checks and messages. */
class OptionStringsTest {
    static final String WEIGHTS = TinyModel.WEIGHTS.toString();

    @Test
    void noKeysGiveTheCommandsDefaults() {
        OptionStrings.Parsed p = OptionStrings.parse(Map.of());
        assertEquals(RestoreOptions.defaults(), p.restore());
        assertNull(p.settings(), "no weights, no engine settings");
        assertEquals("png", p.extension());
        assertFalse(p.overwrite());
    }

    @Test
    void everyRestoreKeyReachesTheRestoreOptions() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("steps", "20");
        m.put("cfg-text", "7.5");
        m.put("cfg-image", "1.5");
        m.put("scm-weight", "0.1");
        m.put("max-passes", "3");
        m.put("prompt", "A photo needs haze artifact reduction");
        m.put("seed", "-3");
        m.put("color-correct", "adain");
        RestoreOptions o = OptionStrings.parse(m).restore();
        assertEquals(new RestoreOptions(20, 7.5f, 1.5f, 0.1f, 3, "A photo needs haze artifact reduction", -3L,
                ColorCorrection.Mode.ADAIN), o);
        m.put("sampler", "dpmpp_2m");
        m.put("schedule", "karras");
        m.put("need-resize", "true");
        m.put("resolution", "512");
        assertEquals(o.withSampler(Sampler.DPMPP_2M).withSchedule(SigmaSchedule.KARRAS).withResize(512), OptionStrings.parse(m).restore());
        assertEquals(OptionStrings.Kind.RESTORE, OptionStrings.kind("sampler"));
    }

    /** The tiling flags are restore keys too (the C API and the Spark job pass them as strings). */
    @Test
    void tilingKeysReachTheRestoreOptions() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("tiles", "32");
        m.put("tile-overlap", "8");
        m.put("memory-budget", "12g");
        m.put("biqa-crops", "3");
        TilingOptions t = OptionStrings.parse(m).restore().tiling();
        assertEquals(new TilingOptions(TilingOptions.Mode.ON, 32, 8, 12L << 30, 3, 0), t);
        assertEquals(TilingOptions.Mode.OFF, OptionStrings.parse(Map.of("tiles", "off")).restore().tiling().mode());
        assertEquals(TilingOptions.defaults(), OptionStrings.parse(Map.of()).restore().tiling());
        assertEquals(OptionStrings.Kind.RESTORE, OptionStrings.kind("memory-budget"));
        assertMessage(Map.of("tiles", "lots"), "--tiles: tiles must be auto, off or a latent tile side");
        assertMessage(Map.of("tile-overlap", "64"), "--tile-overlap must be in 0..63");
        assertMessage(Map.of("memory-budget", "a lot"), "--memory-budget: memory budget must be a size such as 16g");
        assertMessage(Map.of("biqa-crops", "9"), "--biqa-crops: BIQA crops per side must be in 1..8, got 9");
    }

    @Test
    void engineKeysGiveTheSettingsWithTheirChecks() {
        OptionStrings.Parsed p = OptionStrings.parse(Map.of("weights", WEIGHTS, "config", "configs/golden-A.yaml",
                "backend", "unet=cpu", "precision", "fp16"));
        assertEquals(Precision.FP16, p.settings().precision());
        assertEquals("cpu", p.settings().backends().unet());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OptionStrings.parse(Map.of("weights", WEIGHTS, "backend", "tpu")));
        assertTrue(e.getMessage().contains("unknown backend \"tpu\""), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> OptionStrings.parse(Map.of("weights", "/nonexistent.ckpt")));
        assertEquals("--weights: /nonexistent.ckpt: no such file", e.getMessage());
        assertEquals(OptionStrings.Kind.ENGINE, OptionStrings.kind("weights"));
        assertEquals(OptionStrings.Kind.ENGINE, OptionStrings.kind("precision"));
        assertEquals(OptionStrings.Kind.RESTORE, OptionStrings.kind("steps"));
    }

    @Test
    void badKeysAndValuesAreRejectedWithTheCommandLinesMessages() {
        assertMessage(Map.of("sampler", "lms"), "--sampler: unknown sampler \"lms\"");
        assertMessage(Map.of("schedule", "linear"), "--schedule: ");
        assertMessage(Map.of("need-resize", "true", "resolution", "10"), "--resolution must be in 64..8192, got 10");
        assertMessage(Map.of("stepz", "3"), "unknown option \"stepz\" (options: ");
        assertMessage(Map.of("--steps", "3"), "unknown option \"--steps\"");
        assertMessage(Map.of("output", "/tmp"), "unknown option \"output\"");
        assertMessage(Map.of("steps", "abc"), "Invalid value for option '--steps': 'abc' is not an int");
        assertMessage(Map.of("steps", "1001"), "--steps must be in 1..1000, got 1001");
        assertMessage(Map.of("max-passes", "8"), "--max-passes must be in 1..7, got 8");
        assertMessage(Map.of("cfg-text", "NaN"), "--cfg-text must be in 0..50");
        assertMessage(Map.of("prompt", " "), "--prompt must not be empty");
        assertMessage(Map.of("color-correct", "sepia"), "--color-correct: unknown colour correction \"sepia\"");
    }

    @Test
    void runFlagsAreKeysOnlyWhereTheCallerTakesThem() {
        assertMessage(Map.of("format", "jpg"), "unknown option \"format\"");
        assertEquals("jpg", OptionStrings.parse(Map.of("format", "jpeg"), Set.of("format")).extension());
        assertTrue(OptionStrings.parse(Map.of("overwrite", "true"), Set.of("overwrite")).overwrite());
        assertFalse(OptionStrings.parse(Map.of("overwrite", "false"), Set.of("overwrite")).overwrite());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OptionStrings.parse(Map.of("overwrite", "yes"), Set.of("overwrite")));
        assertTrue(e.getMessage().contains("must be true or false"), e.getMessage());
        assertFalse(OptionStrings.keys().contains("output"));
        assertTrue(OptionStrings.keys().containsAll(List.of("weights", "steps", "seed", "prompt")));
    }

    @Test
    void commandLineArgumentsBecomeAMapAndTheRestIsLeft() {
        List<String> rest = new ArrayList<>();
        Map<String, String> m = OptionStrings.fromArgs(List.of("--input", "x", "--steps", "20", "--seed=-1", "--format", "jpg",
                "--prompt", "--not an option--"), Set.of("format"), rest);
        assertEquals(Map.of("steps", "20", "seed", "-1", "format", "jpg", "prompt", "--not an option--"), m);
        assertEquals(List.of("--input", "x"), rest);
        Map<String, String> mixed = Map.of("weights", WEIGHTS, "steps", "3", "format", "png");
        assertEquals(Map.of("weights", WEIGHTS), OptionStrings.only(mixed, OptionStrings.Kind.ENGINE));
        assertEquals(Map.of("steps", "3"), OptionStrings.only(mixed, OptionStrings.Kind.RESTORE));
        assertThrows(IllegalArgumentException.class, () -> OptionStrings.fromArgs(List.of("--steps"), Set.of(), new ArrayList<>()));
    }

    private static void assertMessage(Map<String, String> options, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OptionStrings.parse(options));
        assertTrue(e.getMessage().contains(expected), "\"" + e.getMessage() + "\" does not contain \"" + expected + "\"");
    }
}
