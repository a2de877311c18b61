package dev.autodir.backend.tensorrt;

import dev.autodir.backend.Precision;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorRTSettingsTest {
    @TempDir Path dir;

    @Test void theCacheLivesBesideTheWeightsOrInTheWorkingDirectory() throws IOException {
        Path w = Files.write(dir.resolve("autodir.ckpt"), new byte[1]);
        TensorRTSettings s = TensorRTSettings.defaults();
        assertEquals(dir.resolve("autodir-engines").toAbsolutePath(), s.cacheDirFor(TrtFixtures.store(w)));
        assertEquals(Path.of("engines", "cache").toAbsolutePath().normalize(), s.cacheDirFor(TrtFixtures.store(Path.of("random-weights(seed=7)"))),
                "weights without a file (random weights) use engines/cache of the working directory");
        Path chosen = dir.resolve("my-engines");
        assertEquals(chosen, s.withCacheDir(chosen).cacheDirFor(TrtFixtures.store(w)), "a chosen folder wins");
    }

    @Test void precisionPrecedence() {
        EngineRecipe pinned = new EngineRecipe("unet", EnginePrecision.FP32, 3, 1L << 30, false, true, null);
        EngineRecipe free = EngineRecipe.defaults("unet");
        TensorRTSettings none = TensorRTSettings.defaults(), bf16 = none.withPrecision(EnginePrecision.BF16);
        assertEquals(EnginePrecision.FP16, none.precisionFor(free, EnginePrecision.of(Precision.FP16)), "the run's --precision");
        assertEquals(EnginePrecision.FP32, none.precisionFor(free, EnginePrecision.of(Precision.FP32)));
        assertEquals(EnginePrecision.FP32, none.precisionFor(pinned, EnginePrecision.FP16), "a recipe's pin over --precision");
        assertEquals(EnginePrecision.BF16, bf16.precisionFor(pinned, EnginePrecision.FP16), "-Dautodir.tensorrt.precision over everything");
    }

    @Test void propertiesAreReadAndABadPrecisionNamesItself() {
        String old = System.getProperty("autodir.tensorrt.precision");
        String oldCache = System.getProperty("autodir.tensorrt.cache");
        try {
            System.setProperty("autodir.tensorrt.precision", "bf16");
            System.setProperty("autodir.tensorrt.cache", dir.toString());
            TensorRTSettings s = TensorRTSettings.fromProperties();
            assertEquals(EnginePrecision.BF16, s.precision());
            assertEquals(dir, s.cacheDir());
            assertTrue(s.cudaGraph());
            System.setProperty("autodir.tensorrt.precision", "half");
            String m = assertThrows(IllegalArgumentException.class, TensorRTSettings::fromProperties).getMessage();
            assertEquals("-Dautodir.tensorrt.precision: unknown engine precision \"half\" (expected fp32, fp16 or bf16)", m);
        } finally {
            restore("autodir.tensorrt.precision", old);
            restore("autodir.tensorrt.cache", oldCache);
        }
    }

    @Test void aRecipesFileCanReplaceThePackagedOne() throws IOException {
        Path f = Files.writeString(dir.resolve("r.yaml"), "format: 1\nnetworks: {unet: {optimization-level: 1}}\n");
        assertEquals(1, TensorRTSettings.defaults().withRecipes(f).loadRecipes().recipe("unet").optimizationLevel());
        String m = assertThrows(IllegalArgumentException.class, () -> TensorRTSettings.defaults().withRecipes(dir.resolve("none.yaml")).loadRecipes()).getMessage();
        assertEquals(dir.resolve("none.yaml") + ": no such recipes file", m);
    }

    private static void restore(String key, String value) {
        if (value == null) System.clearProperty(key);
        else System.setProperty(key, value);
    }
}
