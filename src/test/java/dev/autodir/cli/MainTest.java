package dev.autodir.cli;

import dev.autodir.TestData;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The command line: exit codes, one-line errors without partial output, help, and the launcher script. */
class MainTest {
    static final Path GOLDEN_A = TestData.goldenA();

    @TempDir Path dir;

    record Result(int code, String out, String err) { }

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    private Path headsYaml() throws IOException {
        return Files.writeString(dir.resolve("heads.yaml"), """
                model:
                  params:
                    unet_config: {params: {num_heads: 2}}
                    assessment_config:
                      params:
                        text_config: {num_attention_heads: 2}
                        vision_config: {num_attention_heads: 3}
                """);
    }

    private static void assertOneLineFailure(Result r, int code, String... fragments) {
        assertEquals(code, r.code(), r.err());
        assertEquals("", r.out(), "no partial output on failure");
        String[] lines = r.err().split("\\R");
        assertEquals(1, lines.length, "one line on stderr: " + r.err());
        assertTrue(lines[0].startsWith("autodir: "), lines[0]);
        for (String f : fragments) assertTrue(lines[0].contains(f), "\"" + f + "\" not in: " + lines[0]);
    }

    @Test
    void inspectPrintsNetworksConfigsCountsAndUnusedKeys() throws IOException {
        Result r = run("inspect", GOLDEN_A.resolve("weights.ckpt").toString(), "--config", headsYaml().toString());
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        String o = r.out();
        for (String s : new String[] {
                "UNet  model.diffusion_model.*  208 tensors, 794,116 parameters, F32",
                "VAE  first_stage_model.*  124 tensors",
                "CLIP text  model_assessment.clipmodel.*",
                "CLIP vision  model_assessment.clipmodel.*",
                "SCM (NAFNet)  NAFNet.*  139 tensors",
                "  modelChannels          32",
                "  heads                  3",
                "  encBlocks              [1, 1, 1]",
                "schedule  1000 timesteps, alphas_cumprod from the checkpoint's buffer",
                "keys no network uses (14)",
                "  alphas_cumprod  F32 [1000]  (read for the schedule)",
                "  model_assessment.clipmodel.text_model.embeddings.position_ids  I64 [1, 77]"}) {
            assertTrue(o.contains(s), "\"" + s + "\" not in:\n" + o);
        }
    }

    @Test
    void aCorruptCheckpointIsOneLineExitOneAndNoOutput() throws IOException {
        byte[] all = Files.readAllBytes(GOLDEN_A.resolve("weights.ckpt"));
        Path cut = Files.write(dir.resolve("cut.ckpt"), Arrays.copyOf(all, all.length - 1000));
        assertOneLineFailure(run("inspect", cut.toString(), "--config", headsYaml().toString()), 1, cut.toString(), "zip");
        assertOneLineFailure(run("inspect", dir.resolve("absent.ckpt").toString()), 1, "absent.ckpt: no such file");
    }

    @Test
    void aConfigThatDisagreesWithTheWeightsIsOneLineExitOne() {
        assertOneLineFailure(run("inspect", GOLDEN_A.resolve("weights.safetensors").toString(), "--config", "configs/generate.yaml"), 1,
                "weights.safetensors", "expected shape [1280, 320], actual [128, 32]");
        // without a config, set A's CLIP width 32 cannot take the official 12 heads
        assertOneLineFailure(run("inspect", GOLDEN_A.resolve("weights.safetensors").toString()), 1,
                "12 heads do not divide the CLIP text width 32");
    }

    @Test
    void usageErrorsExitTwo() {
        assertOneLineFailure(run("inspect", "--bogus", "x.ckpt"), 2, "--bogus", "autodir inspect --help");
        assertOneLineFailure(run("inspect"), 2, "CHECKPOINT");
        assertOneLineFailure(run("frobnicate"), 2, "frobnicate");
        assertOneLineFailure(run(), 2, "missing command");
    }

    @Test
    void helpOnEveryCommand() {
        Result top = run("--help");
        assertEquals(0, top.code());
        assertTrue(top.out().contains("Usage: autodir") && top.out().contains("inspect"), top.out());
        Result inspect = run("inspect", "--help");
        assertEquals(0, inspect.code());
        assertTrue(inspect.out().contains("Usage: autodir inspect") && inspect.out().contains("--config=FILE"), inspect.out());
    }

    @Test
    void launcherWithoutTheJarSaysHowToBuildIt() throws Exception {
        Path script = Path.of("bin", "autodir");
        assumeTrue(Files.isRegularFile(script), "bin/autodir not found from " + Path.of("").toAbsolutePath());
        Path copy = Files.createDirectories(dir.resolve("bin")).resolve("autodir");
        Files.copy(script, copy);
        Process p = new ProcessBuilder("bash", copy.toString(), "inspect", "x.ckpt").redirectErrorStream(true).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertNotEquals(0, p.exitValue());
        assertTrue(out.contains("target/autodir.jar not found") && out.contains("mvn -q -B package -DskipTests"), out);
    }
}
