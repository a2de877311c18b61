package dev.autodir.cli;

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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The command line: exit codes, one-line errors without partial output, help, and the launcher script. */
class MainTest {
    static final Path GOLDEN_A = Path.of("..", "shared", "golden", "A");

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
        assumeTrue(Files.isDirectory(GOLDEN_A), "golden set A absent: skipping");
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
        assumeTrue(Files.isDirectory(GOLDEN_A), "golden set A absent: skipping");
        byte[] all = Files.readAllBytes(GOLDEN_A.resolve("weights.ckpt"));
        Path cut = Files.write(dir.resolve("cut.ckpt"), Arrays.copyOf(all, all.length - 1000));
        assertOneLineFailure(run("inspect", cut.toString(), "--config", headsYaml().toString()), 1, cut.toString(), "zip");
        assertOneLineFailure(run("inspect", dir.resolve("absent.ckpt").toString()), 1, "absent.ckpt: no such file");
    }

    @Test
    void aConfigThatDisagreesWithTheWeightsIsOneLineExitOne() {
        assumeTrue(Files.isDirectory(GOLDEN_A), "golden set A absent: skipping");
        assertOneLineFailure(run("inspect", GOLDEN_A.resolve("weights.safetensors").toString(), "--config", "configs/generate.yaml"), 1,
                "weights.safetensors", "expected shape [1280, 320], actual [128, 32]");
    }

    @Test
    void withoutAConfigInspectPrintsWhatItInferredMarksDefaultsAndTheHeadCountThatCannotWork() {
        assumeTrue(Files.isDirectory(GOLDEN_A), "golden set A absent: skipping");
        String weights = GOLDEN_A.resolve("weights.safetensors").toString();
        Result r = run("inspect", weights);
        assertEquals(1, r.code(), r.err());
        String[] err = r.err().split("\\R");
        assertEquals(1, err.length, r.err());
        assertTrue(err[0].startsWith("autodir: " + weights + ": 12 heads do not divide the CLIP text width 32")
                && err[0].endsWith("'--config-template' writes a config to fill in"), err[0]);
        String o = r.out();
        for (String s : new String[] {
                "  modelChannels          32\n",                                             // from the weights: no mark
                "  numHeads               8  (official default: shapes cannot tell it)",      // UNet
                "  heads                  12  ! cannot be used (see problems); official default",  // CLIP text
                "  heads                  16  (official default: shapes cannot tell it)",     // CLIP vision: fits, but defaulted
                "problems (1)",
                "  ! " + weights + ": 12 heads do not divide the CLIP text width 32",
                "--config-template > my.yaml"}) {
            assertTrue(o.contains(s), "\"" + s + "\" not in:\n" + o);
        }
    }

    @Test
    void configTemplateIsYamlWithEveryValueAndFillInWhereAHeadCountCannotWork() throws IOException {
        assumeTrue(Files.isDirectory(GOLDEN_A), "golden set A absent: skipping");
        Result r = run("inspect", GOLDEN_A.resolve("weights.ckpt").toString(), "--config-template");
        assertEquals(0, r.code(), r.err());
        assertEquals("autodir: 1 value to choose: replace FILL_IN in the template", r.err().strip());
        String t = r.out();
        assertTrue(t.startsWith("# AutoDIR config for "), t);
        assertTrue(t.contains("  num_attention_heads: FILL_IN  # FILL IN: "), t);
        assertTrue(t.contains("  model_channels: 32  # from the weights\n"), t);
        // filled in, it is set A's config: the engine loads with it
        String filled = t.replace("num_attention_heads: FILL_IN", "num_attention_heads: 2")
                .replace("num_attention_heads: 16", "num_attention_heads: 3").replace("num_heads: 8", "num_heads: 2");
        Path yaml = Files.writeString(dir.resolve("filled.yaml"), filled);
        Result ok = run("inspect", GOLDEN_A.resolve("weights.ckpt").toString(), "--config", yaml.toString());
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().contains("  heads                  3  (from the config)"), ok.out());
        assertFalse(ok.out().contains("problems"), ok.out());
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
        assertTrue(inspect.out().contains("Usage: autodir inspect") && inspect.out().contains("--config=FILE")
                && inspect.out().contains("--config-template"), inspect.out());
        Result bench = run("bench", "--help");
        assertTrue(bench.out().contains("--json") && bench.out().contains("--strict-backend"), bench.out());
        Result golden = run("golden-check", "--help");
        assertTrue(golden.out().contains("--strict-backend"), golden.out());
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
