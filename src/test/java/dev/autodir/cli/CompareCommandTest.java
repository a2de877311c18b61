package dev.autodir.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.engine.TinyModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code autodir compare} end to end on the tiny model: four engines in worker processes (cpu fp32, the ONNX export on ONNX Runtime in
 * float32, INT8 and FP8 QDQ) and one that cannot start
 * here; the JSON's figures must make sense.
 */
class CompareCommandTest {
    @Test void fourEnginesSideBySideWithFiguresThatMakeSense(@TempDir Path dir) throws IOException {
        Path img = TinyModel.png(dir.resolve("photo.png"), 36, 44, 3);
        Path json = dir.resolve("report.json"), html = dir.resolve("report.html");
        MainTest.Result r = MainTest.run("compare", img.toString(), "--weights", TinyModel.WEIGHTS.toString(), "--config",
                TinyModel.yaml().toString(), "--engines", "cpu:fp32,onnxruntime:fp32,onnxruntime:int8,onnxruntime:fp8,tensorrt:fp16", "--steps", "3",
                "--report", json.toString(), "--html", html.toString());
        assertEquals(0, r.code(), r.err() + r.out());
        JsonNode rep = new ObjectMapper().readTree(json.toFile());
        assertEquals("cpu:fp32", rep.path("reference").asText());
        JsonNode[] e = new JsonNode[5];
        for (int i = 0; i < 5; i++) e[i] = rep.path("engines").get(i);
        for (int i = 0; i < 4; i++) {
            assertEquals("ran", e[i].path("status").asText(), e[i].toString());
            for (String stage : new String[] {"assess", "vae_encode", "unet_step", "sample", "vae_decode", "scm", "pass"}) {
                assertTrue(e[i].path("median_ms").path(stage).asDouble() > 0, e[i].path("engine") + " " + stage);
            }
            assertTrue(e[i].path("peak_rss_bytes").asLong() > 50L << 20, "a worker's own peak memory: " + e[i].path("peak_rss_bytes"));
        }
        // the reference against itself: no deviation at all
        JsonNode ref = e[0].path("deviation");
        ref.path("networks").forEach(n -> {
            assertEquals(0, n.path("rel_l2").asDouble(), 0);
            assertEquals(0, n.path("max_abs").asDouble(), 0);
        });
        assertTrue(ref.path("image").path("identical").asBoolean());
        assertEquals(1.0, ref.path("image").path("ssim").asDouble(), 1e-12);
        assertEquals(0, ref.path("image").path("max_uint8_diff").asInt());
        assertTrue(ref.path("biqa").path("same_class").asBoolean());
        // the float32 ONNX export on ONNX Runtime computes the reference's function: float32 rounding only (fp32 ≲ 1e-5
        // per op; the UNet's eps after a whole sampling run of 3 steps stays below 1e-4)
        double ortFp32 = e[1].path("deviation").path("networks").path("unet/eps").path("rel_l2").asDouble();
        assertTrue(ortFp32 < 1e-4, "onnxruntime fp32 UNet rel-L2 " + ortFp32);
        // quantized engines deviate, FP8 (3 mantissa bits) more than INT8 (255 levels per tensor) on the UNet
        double int8 = e[2].path("deviation").path("networks").path("unet/eps").path("rel_l2").asDouble();
        double fp8 = e[3].path("deviation").path("networks").path("unet/eps").path("rel_l2").asDouble();
        assertTrue(int8 > 1e-4 && int8 < 0.3, "int8 UNet rel-L2 " + int8);    // the quantization-noise bound of CalibrationTest
        assertTrue(fp8 > int8, "fp8 " + fp8 + " vs int8 " + int8);
        assertFalse(e[2].path("deviation").path("image").path("identical").asBoolean());
        // an engine that cannot start is listed with the reason, and the others ran
        assertEquals("not run", e[4].path("status").asText());
        assertTrue(e[4].path("reason").asText().contains("tensorrt"), e[4].toString());
        // the stdout table names every engine; the page has the table, the chart and one image per engine that ran
        for (String n : new String[] {"cpu:fp32", "onnxruntime:fp32", "onnxruntime:int8", "onnxruntime:fp8", "tensorrt:fp16"}) assertTrue(r.out().contains(n), r.out());
        String page = Files.readString(html);
        assertTrue(page.contains("<table id=\"figures\">") && page.contains("<svg") && page.contains("class=\"bar\""), "table and chart");
        assertEquals(4 + 3, page.split("data:image/png;base64,", -1).length - 1, "4 outputs and 3 difference maps");
    }

    @Test void aBadEngineListIsAUsageError(@TempDir Path dir) {
        Path img = TinyModel.png(dir.resolve("p.png"), 36, 44, 3);
        MainTest.Result r = MainTest.run("compare", img.toString(), "--engines", "cpu:fp32,gpu:fp16");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown backend \"gpu\""), r.err());
        assertEquals(2, MainTest.run("compare", img.toString(), "--engines", "cpu:fp32,cpu:fp32").code());
    }
}
