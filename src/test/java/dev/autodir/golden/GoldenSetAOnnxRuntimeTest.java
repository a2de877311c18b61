package dev.autodir.golden;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.onnxruntime.OnnxRuntimeAvailability;
import dev.autodir.backend.onnxruntime.OnnxRuntimeOps;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.text.CLIPTokenizer;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * golden-check on the onnxruntime backend over set A: every network case runs as an ONNX export in an ONNX Runtime
 * session (the sampler and pipeline cases too, with their eager glue on the cpu backend), and every output is within
 * the manifest's tolerance. This is the independent check of the ONNX exporter.
 */
class GoldenSetAOnnxRuntimeTest {
    @Test void everyCaseOfSetAPassesOnOnnxRuntime() {
        assumeTrue(Files.isDirectory(GoldenSetATest.SET_A), "golden set A not found at " + GoldenSetATest.SET_A.toAbsolutePath());
        String why = OnnxRuntimeAvailability.unavailableReason();
        assumeTrue(why == null, why);
        GoldenSet set = GoldenSet.open(GoldenSetATest.SET_A);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        GoldenCheck.Report report;
        try (AutoDIRModels models = AutoDIRModels.load(set.weightsFile(), GoldenConfig.yaml(set));
             StageBackends ops = StageBackends.all(new OnnxRuntimeOps(new CpuOps(), null, System.err));
             GoldenCases cases = new GoldenCases(models, ops, CLIPTokenizer.loadDefault())) {
            report = new GoldenCheck(set, cases, 0).run(new PrintStream(buf, true, StandardCharsets.UTF_8));
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        System.out.println(text);
        assertEquals(0, report.count(GoldenCheck.Status.FAIL), text);
        assertEquals(0, report.count(GoldenCheck.Status.NOT_RUN), text);
        assertTrue(report.count(GoldenCheck.Status.PASS) > 50, text);
    }
}
