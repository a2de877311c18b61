package dev.autodir.model;

import dev.autodir.io.CheckpointException;
import dev.autodir.io.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Config values from a YAML file (issue 12, item 12): ranges, NaN, size and alias limits, each a ConfigException naming the value. */
class ConfigValidationTest {
    @TempDir Path dir;

    private static FakeStore official() {
        return FakeStore.official();
    }

    private String refused(String yaml) throws IOException {
        Path f = Files.writeString(dir.resolve("c.yaml"), yaml);
        ConfigException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(ConfigException.class, () -> ConfigInference.inspect(official(), ModelYaml.read(f))));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        return e.getMessage();
    }

    @Test
    void scheduleValuesOutOfRangeOrNaNAreRefused() throws IOException {
        assertTrue(refused("model:\n  params:\n    linear_end: .nan\n").contains("linear_end NaN"));
        assertTrue(refused("model:\n  params:\n    linear_start: 0.02\n    linear_end: 0.01\n").contains("0 < linear_start <= linear_end < 1"));
        assertTrue(refused("model:\n  params:\n    scale_factor: -1\n").contains("scale_factor must be in (0, 1000], got -1.0"));
        assertTrue(refused("model:\n  params:\n    timesteps: 1000000000\n").contains("timesteps must be in 1..100000"));
    }

    @Test
    void networkValuesOutOfRangeAreRefusedBeforeAnythingIsBuiltFromThem() throws IOException {
        String u = "model:\n  params:\n    unet_config:\n      params:\n";
        assertTrue(refused(u + "        num_res_blocks: 1000000000\n").contains("UNet num_res_blocks must be in 1..256"));
        assertTrue(refused(u + "        channel_mult: []\n").contains("UNet channel_mult must have 1..8 entries"));
        assertTrue(refused(u + "        num_heads: -3\n        num_head_channels: -1\n").contains("exactly one of num_heads"));
        assertTrue(refused("model:\n  params:\n    assessment_config:\n      params:\n        text_config:\n          layer_norm_eps: .inf\n")
                .contains("CLIP text layer_norm_eps must be in (0, 1)"));
    }

    @Test
    void largeFilesAliasBombsAndDeepNestingAreRefusedQuickly() throws IOException {
        // 10 MB took 82 s to be refused: now the size is checked before parsing
        Path big = dir.resolve("big.yaml");
        Files.write(big, ("a: [" + "1, ".repeat(3_500_000) + "1]\n").getBytes());
        ConfigException e = assertTimeoutPreemptively(Duration.ofSeconds(2), () -> assertThrows(ConfigException.class, () -> ModelYaml.read(big)));
        assertTrue(e.getMessage().contains("over the limit of 1048576"), e.getMessage());
        StringBuilder bomb = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 60; i++) bomb.append("a").append(i).append(": &a").append(i).append(" [*a").append(i - 1).append(", *a").append(i - 1).append("]\n");
        assertTrue(refused(bomb.toString()).contains("not valid YAML"));
        assertTrue(refused("a: " + "[".repeat(200) + "]".repeat(200) + "\n").contains("not valid YAML"));
        assertTrue(refused("a: 1\na: 2\n").contains("not valid YAML"));
    }

    @Test
    void anAlphasCumprodOfMillionsOfEntriesIsNotRead() {
        FakeStore s = official().put("alphas_cumprod", DType.F32, 10_000_000);
        CheckpointException e = assertThrows(CheckpointException.class, () -> ConfigInference.inspect(s, ModelYaml.none()));
        assertTrue(e.getMessage().contains("has more than 100000 entries"), e.getMessage());
    }
}
