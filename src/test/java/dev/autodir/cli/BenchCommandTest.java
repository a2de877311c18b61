package dev.autodir.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.backend.cuda.CudaAvailability;
import dev.autodir.engine.TinyModel;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code autodir bench --json} on golden set A's tiny SCM: the fields scripts compare, and honest backend reports. */
class BenchCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static MainTest.Result bench(String... extra) {
        String[] base = {"bench", "--network", "scm", "--size", "32", "--weights", TinyModel.WEIGHTS.toString(),
                "--config", TinyModel.yaml().toString(), "--warmup", "0", "--runs", "3"};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return MainTest.run(args);
    }

    @Test
    void jsonHasTheTimesTheirSpreadTheBackendAndTheMachine() throws Exception {
        MainTest.Result r = bench("--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals("scm", j.path("network").asText());
        assertEquals(32, j.path("size").asInt());
        assertEquals(3, j.path("times_ms").size());
        double min = Double.MAX_VALUE, max = 0;
        for (JsonNode t : j.path("times_ms")) {
            assertTrue(t.asDouble() > 0, t.toString());
            min = Math.min(min, t.asDouble());
            max = Math.max(max, t.asDouble());
        }
        double median = j.path("median_ms").asDouble();
        assertEquals(min, j.path("min_ms").asDouble(), 0);
        assertEquals(max, j.path("max_ms").asDouble(), 0);
        assertTrue(min <= median && median <= max, j.toString());
        assertEquals((max - min) / median, j.path("spread").asDouble(), 1e-12);
        assertTrue(j.path("gflop").asDouble() > 0 && j.path("tflops").asDouble() > 0, j.toString());
        JsonNode b = j.path("backend");
        assertEquals(List.of("cpu", "cpu", "fp32", "fp32"), List.of(b.path("requested").asText(), b.path("used").asText(),
                b.path("precision_requested").asText(), b.path("precision_used").asText()));
        assertTrue(b.path("fallback_reason").isNull());
        JsonNode m = j.path("machine");
        assertEquals(Runtime.getRuntime().availableProcessors(), m.path("cores").asInt());
        assertTrue(m.path("jvm").asText().contains(System.getProperty("java.runtime.version")), m.toString());
        assertTrue(m.path("os").asText().startsWith(System.getProperty("os.name")), m.toString());
        assertTrue(!m.path("cpu").asText().isBlank() && m.path("max_heap_mb").asLong() > 0, m.toString());
    }

    @Test
    void afterAFallbackBenchSaysWhatRanAndStrictModeFails() throws Exception {
        assumeFalse(CudaAvailability.usable(), "a GPU is usable here: no fallback to provoke");
        MainTest.Result text = bench("--backend", "cuda", "--precision", "fp16");
        assertEquals(0, text.code(), text.err());
        assertTrue(text.out().startsWith("scm size 32 backend cpu precision fp32 weights "), text.out());
        assertTrue(text.out().contains("\nrequested backend cuda precision fp16 (fell back: "), text.out());
        JsonNode b = JSON.readTree(bench("--backend", "cuda", "--precision", "fp16", "--json").out()).path("backend");
        assertEquals(List.of("cuda", "cpu", "fp16", "fp32"), List.of(b.path("requested").asText(), b.path("used").asText(),
                b.path("precision_requested").asText(), b.path("precision_used").asText()));
        assertEquals(CudaAvailability.unavailableReason(), b.path("fallback_reason").asText());

        MainTest.Result strict = bench("--backend", "cuda", "--strict-backend");
        assertEquals(1, strict.code());
        assertEquals("", strict.out());
        String[] lines = strict.err().split("\\R");
        assertEquals(1, lines.length, strict.err());
        assertTrue(lines[0].startsWith("autodir: strict backend, no fallback: cuda backend unavailable for stages clip, vae, unet, scm ("),
                lines[0]);
    }

    /** An INT8 engine is timed like the others and says how far its output is from float32; without a calibration, or
     *  on a backend with no INT8 path, it is a one-line usage error, never another precision. */
    @Test
    void int8OnOnnxRuntimeIsTimedWithItsDeviationAndNeverFallsBack() {
        assumeTrue(dev.autodir.backend.onnxruntime.OnnxRuntimeAvailability.unavailableReason() == null, "onnxruntime unavailable");
        MainTest.Result r = bench("--backend", "onnxruntime", "--precision", "int8", "--calibration", "inputs");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("scm size 32 backend onnxruntime precision int8 weights "), r.out());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("deviation from cpu fp32 on the same inputs: rel-L2 ([0-9.e+-]+)").matcher(r.out());
        assertTrue(m.find(), r.out());
        double dev = Double.parseDouble(m.group(1));
        // quantized (not float32: > 1e-4), calibrated on these very inputs: within the few percent QdqExportTest measures
        assertTrue(dev > 1e-4 && dev < 0.1, "int8 SCM rel-L2 " + dev);

        MainTest.Result none = bench("--backend", "onnxruntime", "--precision", "int8");
        assertEquals(2, none.code());
        assertTrue(none.err().contains("--precision int8 needs --calibration"), none.err());
        String noGpu = CudaAvailability.unavailableReason();
        if (noGpu != null) {   // cuda:int8 exists (CudaQuantizedOps); without a GPU it is refused with the reason, never run on the cpu
            MainTest.Result cuda = bench("--backend", "cuda", "--precision", "int8", "--calibration", "inputs");
            assertEquals(1, cuda.code());
            assertTrue(cuda.err().contains("cuda:int8") && cuda.err().contains(noGpu), cuda.err());
        }
    }
}
