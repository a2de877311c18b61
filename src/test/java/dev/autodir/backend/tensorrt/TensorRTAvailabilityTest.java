package dev.autodir.backend.tensorrt;

import dev.autodir.backend.BackendException;
import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Precision;
import dev.autodir.backend.StagePlacement;
import dev.autodir.pipeline.StageBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TensorRTAvailabilityTest {
    @TempDir Path dir;

    private String probe(String gpu, String bindings) {
        return TensorRTAvailability.probe(new TensorRTAvailability.Environment(List.of(dir.resolve("nothing"), dir), () -> gpu, () -> bindings));
    }

    @Test void everythingMissingIsNamedInOneLine() {
        String why = probe("cudaGetDeviceCount returned error 35", null);
        assertTrue(why.startsWith("libnvinfer.so.10 not found; libnvonnxparser.so.10 not found; no GPU (cudaGetDeviceCount returned error 35) (searched"), why);
        assertTrue(why.contains("LD_LIBRARY_PATH"), why);
        assertTrue(why.contains("install TensorRT 10"), why);
        assertTrue(!why.contains("\n"), why);
    }

    @Test void eachMissingPieceAlone() throws IOException {
        Files.createFile(dir.resolve(TensorRTAvailability.NVINFER));
        String parser = probe(null, null);
        assertTrue(parser.startsWith("libnvonnxparser.so.10 not found (searched"), parser);
        Files.createFile(dir.resolve(TensorRTAvailability.ONNX_PARSER));
        assertEquals("no GPU (no CUDA device)", probe("no CUDA device", "never asked"), "with the libraries present only the GPU is missing");
        assertEquals("the TensorRT bindings do not load (x)", probe(null, "the TensorRT bindings do not load (x)"));
        assertNull(probe(null, null));
    }

    @Test void theSearchPathStartsWithTheLibraryPaths() {
        List<Path> p = TensorRTAvailability.defaultSearchPath();
        assertTrue(p.contains(Path.of("/usr/lib/x86_64-linux-gnu")), p.toString());
        String jlp = System.getProperty("java.library.path");
        if (jlp != null && !jlp.isBlank()) assertTrue(p.contains(Path.of(jlp.split(java.io.File.pathSeparator)[0])), p.toString());
    }

    @Test void aStageThatAskedForTensorRTFallsBackVisibly() {
        String why = TensorRTAvailability.unavailableReason();
        assumeTrue(why != null, "TensorRT is usable here: the fallback path is not taken");
        assertTrue(!why.contains("\n") && !why.isBlank(), why);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream notices = new PrintStream(buf, true, StandardCharsets.UTF_8);
             StageBackends b = Backends.create(BackendSpec.parse("unet=tensorrt,vae=cpu"), Precision.FP32, notices)) {
            String printed = buf.toString(StandardCharsets.UTF_8);
            StagePlacement unet = b.report().stage("unet");
            assertEquals("tensorrt", unet.requested());
            assertNotEquals("tensorrt", unet.backend());
            assertEquals(unet.backend(), b.unet().name());
            assertTrue(unet.reason().startsWith(why), unet.reason());
            if (unet.backend().equals("cpu")) {
                assertTrue(unet.reason().contains("; cuda backend unavailable too ("), "the reason names both missing backends: " + unet.reason());
            }
            assertTrue(printed.contains("autodir: tensorrt backend unavailable for stage unet (" + unet.reason() + "); it runs on " + unet.backend()),
                    printed);
            assertEquals("cpu", b.vae().name());
        }
    }

    @Test void strictModeRefusesTheFallback() {
        String why = TensorRTAvailability.unavailableReason();
        assumeTrue(why != null, "TensorRT is usable here: nothing to refuse");
        BackendException e = assertThrows(BackendException.class,
                () -> Backends.create(BackendSpec.parse("unet=tensorrt"), Precision.FP32, true, null).close());
        assertTrue(e.getMessage().startsWith("strict backend, no fallback: tensorrt backend unavailable for stage unet (" + why), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
    }

    @Test void theBackendNameIsAccepted() {
        assertEquals("tensorrt", BackendSpec.parse("cuda,unet=tensorrt").unet());
        assertEquals("cuda", BackendSpec.parse("cuda,unet=tensorrt").vae());
        String m = assertThrows(IllegalArgumentException.class, () -> BackendSpec.parse("unet=trt")).getMessage();
        assertEquals("--backend unet=trt: unknown backend \"trt\" (backends: cpu, cuda, onnxruntime, tensorrt)", m);
    }
}
