package dev.autodir.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.backend.BackendException;
import dev.autodir.backend.cuda.CudaAvailability;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.engine.TinyModel;
import dev.autodir.image.RgbImageReader;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.quant.QuantFormat;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code restore --precision int8|fp8 --calibration FILE} and the API's {@link AutoDIREngine.Quantization}: the
 * quantized engine really runs (the output is the simulated INT8 function's, not the float one), the report names
 * it, ONNX Runtime's INT8 engine computes the same function, and every way of asking wrongly is refused naming why.
 */
class QuantizedRestoreTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir static Path dir;
    private static Path image;
    private static Path calibration;

    @BeforeAll static void calibrate() {
        image = TinyModel.png(dir.resolve("photo.png"), 36, 44, 7);
        calibration = dir.resolve("calib.json");
        MainTest.Result c = MainTest.run("calibrate", image.toString(), "--weights", TinyModel.WEIGHTS.toString(),
                "--config", TinyModel.yaml().toString(), "--steps", "3", "-o", calibration.toString());
        assertEquals(0, c.code(), c.err());
    }

    private static MainTest.Result restore(Path out, String... extra) { return restore(out, 3, extra); }

    private static MainTest.Result restore(Path out, int steps, String... extra) {
        String[] base = {"restore", image.toString(), "--weights", TinyModel.WEIGHTS.toString(), "--config", TinyModel.yaml().toString(),
                "--steps", String.valueOf(steps), "--max-passes", "1", "-q", "-o", out.toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return MainTest.run(args);
    }

    private static FloatTensor restored(Path out) {
        return RgbImageReader.read(out.resolve("photo_restored.png")).toTensor();
    }

    private static RestoreOptions options() { return RestoreOptions.defaults().withSteps(3).withMaxPasses(1); }

    @Test void theCliRunsTheQuantizedEngineAndItsReportSaysSo() throws IOException {
        Path outInt8 = dir.resolve("int8"), report = dir.resolve("int8.json");
        MainTest.Result r = restore(outInt8, "--precision", "int8", "--calibration", calibration.toString(), "--report", report.toString());
        assertEquals(0, r.code(), r.err());
        MainTest.Result f = restore(dir.resolve("fp32"));
        assertEquals(0, f.code(), f.err());

        // the CLI's image is the API's INT8 engine's (cpu: the simulated function), to the uint8 rounding of the PNG
        AutoDIREngine.Settings s = AutoDIREngine.Settings.builder(TinyModel.WEIGHTS).config(TinyModel.yaml())
                .quantization(QuantFormat.INT8, calibration).build();
        FloatTensor expected;
        try (AutoDIREngine e = AutoDIREngine.open(s)) {
            expected = AutoDIREngine.finalOutput(e.restore(RgbImageReader.read(image).toTensor(), options(), null), options());
        }
        RestoreCommandTest.assertImageMatches(expected, outInt8.resolve("photo_restored.png"));
        FloatTensor int8 = restored(outInt8), fp32 = restored(dir.resolve("fp32"));
        double level = 2.0 / 255;                              // one uint8 level in [-1, 1]
        // and it is not the float32 function: quantization moves the output by far more than one level somewhere
        assertTrue(int8.maxAbsDiff(fp32) > 4 * level, "int8 vs fp32: max |diff| " + int8.maxAbsDiff(fp32));

        JsonNode rep = JSON.readTree(report.toFile());
        assertEquals("int8", rep.path("precision").path("requested").asText());
        assertEquals("int8", rep.path("precision").path("used").asText());
        assertEquals("fp32", rep.path("precision").path("float_layers").asText());
        assertEquals(calibration.toAbsolutePath().toString(), rep.path("precision").path("calibration").asText());
        // the simulated engine is the cpu backend (its heap and tiling rules apply); the precision says it is quantized
        assertEquals("clip=cpu,vae=cpu,unet=cpu,scm=cpu", rep.path("backends").path("used").asText());
    }

    /**
     * ONNX Runtime's INT8 engine restores too, on onnxruntime for every stage and quantized (its image is not its float32
     * image). That it computes the simulated function is checked per network where that is checkable (QdqExportTest:
     * VAE, SCM, BIQA ≤ 1e-6 rel-L2): a whole restore of this tiny random model is not, since one UNet evaluation already
     * moves ~0.03 rel-L2 under a 1e-6 nudge of its input (QdqExportTest), and here onnxruntime int8 and the simulated
     * int8 end 0.118 apart, about as far as float32 is from either (0.113; 1 step, measured 2026-12-02).
     */
    @Test void onnxRuntimeRestoresWithItsInt8Engine() throws IOException {
        assumeTrue(dev.autodir.backend.onnxruntime.OnnxRuntimeAvailability.unavailableReason() == null, "ONNX Runtime not loadable");
        Path report = dir.resolve("ort.json");
        MainTest.Result o = restore(dir.resolve("ort"), 1, "--backend", "onnxruntime", "--precision", "int8", "--calibration", calibration.toString(),
                "--report", report.toString());
        assertEquals(0, o.code(), o.err());
        MainTest.Result f = restore(dir.resolve("ort32"), 1, "--backend", "onnxruntime");
        assertEquals(0, f.code(), f.err());
        FloatTensor int8 = restored(dir.resolve("ort")), fp32 = restored(dir.resolve("ort32"));
        assertTrue(int8.maxAbsDiff(fp32) > 4 * 2.0 / 255, "onnxruntime int8 vs fp32: max |diff| " + int8.maxAbsDiff(fp32));
        JsonNode rep = JSON.readTree(report.toFile());
        assertEquals("clip=onnxruntime,vae=onnxruntime,unet=onnxruntime,scm=onnxruntime", rep.path("backends").path("used").asText());
        assertEquals("int8", rep.path("precision").path("used").asText());
    }

    @Test void wrongRequestsAreRefusedNamingWhy() throws IOException {
        Path out = dir.resolve("refused");
        MainTest.Result none = restore(out, "--precision", "int8");
        assertEquals(2, none.code());
        assertTrue(none.err().contains("--precision int8 needs --calibration FILE"), none.err());
        MainTest.Result floatCal = restore(out, "--precision", "fp16", "--calibration", calibration.toString());
        assertEquals(2, floatCal.code());
        assertTrue(floatCal.err().contains("--calibration is for --precision int8 or fp8"), floatCal.err());
        MainTest.Result mixed = restore(out, "--backend", "unet=onnxruntime,cpu", "--precision", "fp8", "--calibration", calibration.toString());
        assertEquals(2, mixed.code());
        assertTrue(mixed.err().contains("runs one backend for every stage"), mixed.err());
        MainTest.Result missing = restore(out, "--precision", "int8", "--calibration", dir.resolve("absent.json").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("--calibration") && missing.err().contains("absent.json"), missing.err());
        MainTest.Result bad = restore(out, "--precision", "bf8");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("bf8") && bad.err().contains("int8 / fp8"), bad.err());

        Path notCal = Files.writeString(dir.resolve("not-calibration.json"), "{\"hello\": 1}");
        MainTest.Result wrongFile = restore(out, "--precision", "int8", "--calibration", notCal.toString());
        assertEquals(1, wrongFile.code());
        assertTrue(wrongFile.err().contains("not an autodir calibration file"), wrongFile.err());

        // a calibration of other weights: refused, not run with wrong scales
        MainTest.Result other = MainTest.run("restore", image.toString(), "--weights", "random:tiny", "-q", "-o", out.toString(),
                "--precision", "int8", "--calibration", calibration.toString());
        assertEquals(1, other.code());
        assertTrue(other.err().contains("the calibration was made for other weights"), other.err());
        assertTrue(!Files.exists(out.resolve("photo_restored.png")), "nothing written by refused runs");
    }

    /** The cuda INT8 engine where no GPU is: an error naming the reason, never a run on another backend. */
    @Test void aQuantizedEngineThatCannotStartIsAnErrorNotAFallback() {
        assumeTrue(CudaAvailability.unavailableReason() != null, "a GPU is here: the cuda engine may start");
        MainTest.Result r = restore(dir.resolve("cuda"), "--backend", "cuda", "--precision", "int8", "--calibration", calibration.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("int8 engine cannot start") && r.err().contains("no fallback"), r.err());
        AutoDIREngine.Settings s = AutoDIREngine.Settings.builder(TinyModel.WEIGHTS).config(TinyModel.yaml()).backends("cuda")
                .quantization(QuantFormat.FP8_E4M3, calibration).build();
        BackendException e = assertThrows(BackendException.class, () -> AutoDIREngine.open(s).close());
        assertTrue(e.getMessage().contains("fp8 engine cannot start"), e.getMessage());
        // the settings themselves refuse what cannot mean anything
        assertThrows(IllegalArgumentException.class, () -> AutoDIREngine.Settings.builder(TinyModel.WEIGHTS).backends("unet=cuda,cpu")
                .quantization(QuantFormat.INT8, calibration).build());
        assertThrows(IllegalArgumentException.class, () -> AutoDIREngine.Settings.builder(TinyModel.WEIGHTS)
                .quantization(QuantFormat.INT8, dir.resolve("absent.json")).build());
    }
}
