package dev.autodir.golden;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.text.CLIPTokenizer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** golden-check on the cpu backend over set A: every case runs and every output is within the manifest's tolerance. */
class GoldenSetATest {
    static final Path SET_A = Path.of("..", "shared", "golden", "A");

    /** From the safetensors weights and from their PyTorch-Lightning .ckpt twin. */
    @ParameterizedTest
    @ValueSource(strings = {"weights.safetensors", "weights.ckpt"})
    void everyCaseOfSetAPassesOnCpu(String weightsFile) {
        assumeTrue(Files.isDirectory(SET_A), "golden set A not found at " + SET_A.toAbsolutePath());
        GoldenSet set = GoldenSet.open(SET_A);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        GoldenCheck.Report report;
        try (AutoDIRModels models = AutoDIRModels.load(SET_A.resolve(weightsFile), GoldenConfig.yaml(set));
             StageBackends ops = StageBackends.all(new CpuOps())) {
            GoldenCases cases = new GoldenCases(models, ops, CLIPTokenizer.loadDefault());
            report = new GoldenCheck(set, cases, 0).run(new PrintStream(buf, true, StandardCharsets.UTF_8));
        }
        String text = buf.toString(StandardCharsets.UTF_8);          // in the failure messages below, not printed on success
        assertEquals(0, report.count(GoldenCheck.Status.FAIL), text);
        assertEquals(0, report.count(GoldenCheck.Status.NOT_RUN), text);
        assertTrue(report.count(GoldenCheck.Status.PASS) > 50, text);
    }
}
