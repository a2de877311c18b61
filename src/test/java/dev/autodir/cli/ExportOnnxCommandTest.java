package dev.autodir.cli;

import dev.autodir.backend.onnx.ExportedModel;
import dev.autodir.backend.onnx.OnnxExporter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code autodir export-onnx}: every network of the tiny model of set A, and its errors. */
class ExportOnnxCommandTest {
    @TempDir Path dir;

    private static final Path WEIGHTS = MainTest.GOLDEN_A.resolve("weights.safetensors");
    private static final Path CONFIG = Path.of("configs", "golden-A.yaml");

    @Test void exportsEveryNetworkWithItsManifest() throws IOException {
        assumeTrue(Files.isRegularFile(WEIGHTS), "golden set A absent: skipping");
        Path out = dir.resolve("onnx");
        MainTest.Result r = MainTest.run("export-onnx", "--network", "all", "--size", "64", "-o", out.toString(),
                "--weights", WEIGHTS.toString(), "--config", CONFIG.toString());
        assertEquals(0, r.code(), r.err());
        for (String n : dev.autodir.model.Networks.NAMES) {
            ExportedModel e = OnnxExporter.read(OnnxExporter.manifestPath(out, n));
            assertEquals(n, e.network());
            assertTrue(r.out().contains(e.model().toString()), r.out());
        }
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(3 * dev.autodir.model.Networks.NAMES.size(), files.count(), "three files per network, nothing else");
        }
        // again without --overwrite: refused before anything is written, the export kept
        long before = Files.getLastModifiedTime(out.resolve("unet.onnx")).toMillis();
        MainTest.Result again = MainTest.run("export-onnx", "--network", "unet", "--size", "64", "-o", out.toString(),
                "--weights", WEIGHTS.toString(), "--config", CONFIG.toString());
        assertEquals(1, again.code());
        assertTrue(again.err().contains("unet.onnx") && again.err().contains("--overwrite"), again.err());
        assertEquals("", again.out());
        assertEquals(before, Files.getLastModifiedTime(out.resolve("unet.onnx")).toMillis());
        MainTest.Result overwrite = MainTest.run("export-onnx", "--network", "unet", "--size", "64", "-o", out.toString(),
                "--weights", WEIGHTS.toString(), "--config", CONFIG.toString(), "--overwrite");
        assertEquals(0, overwrite.code(), overwrite.err());
    }

    /** The QDQ export of a calibration made by `autodir calibrate`: Q/DQ nodes, int8 weights, the calibration named. */
    @Test void exportsTheInt8QdqGraphOfACalibration() throws IOException {
        Path img = dev.autodir.engine.TinyModel.png(dir.resolve("photo.png"), 36, 44, 3);
        Path calib = dir.resolve("calib.json");
        MainTest.Result c = MainTest.run("calibrate", img.toString(), "--weights", WEIGHTS.toString(), "--config", CONFIG.toString(),
                "--steps", "2", "-o", calib.toString());
        assertEquals(0, c.code(), c.err());
        Path out = dir.resolve("qdq");
        MainTest.Result r = MainTest.run("export-onnx", "--network", "scm", "--size", "64", "-o", out.toString(), "--weights", WEIGHTS.toString(),
                "--config", CONFIG.toString(), "--precision", "int8", "--calibration", calib.toString());
        assertEquals(0, r.code(), r.err());
        ExportedModel e = OnnxExporter.read(OnnxExporter.manifestPath(out, "scm"));
        assertEquals("int8-qdq", e.precision());
        dev.autodir.backend.onnx.proto.OnnxProto.ModelProto m;
        try (var in = Files.newInputStream(e.model())) {
            m = dev.autodir.backend.onnx.proto.OnnxProto.ModelProto.parseFrom(in);
        }
        long q = m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("QuantizeLinear")).count();
        long int8 = m.getGraph().getInitializerList().stream().filter(t -> t.getDataType() == 3 && t.getDimsCount() == 4).count();  // INT8 = 3
        assertTrue(q > 0 && int8 > 0, q + " QuantizeLinear, " + int8 + " int8 conv weights");
        MainTest.Result none = MainTest.run("export-onnx", "--network", "scm", "-o", dir.resolve("x").toString(), "--precision", "int8");
        assertEquals(2, none.code());
        assertTrue(none.err().contains("--precision int8 needs --calibration FILE"), none.err());
        // a calibration of other weights (here: random ones of the official sizes) is refused, naming both hashes
        MainTest.Result other = MainTest.run("export-onnx", "--network", "scm", "--size", "64", "-o", dir.resolve("y").toString(),
                "--precision", "int8", "--calibration", calib.toString());
        assertEquals(1, other.code());
        assertTrue(other.err().contains("the calibration was made for other weights"), other.err());
    }

    @Test void badOptionsAreOneLineErrors() throws IOException {
        MainTest.Result unknown = MainTest.run("export-onnx", "--network", "vae", "-o", dir.toString());
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("unknown network \"vae\"") && unknown.err().contains("unet, vae-encode"), unknown.err());
        MainTest.Result noOutput = MainTest.run("export-onnx", "--network", "unet");
        assertEquals(2, noOutput.code());
        assertTrue(noOutput.err().contains("--output"), noOutput.err());
        MainTest.Result missing = MainTest.run("export-onnx", "--network", "unet", "-o", dir.toString(), "--weights", dir.resolve("no.ckpt").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("no.ckpt"), missing.err());
        Path file = Files.writeString(dir.resolve("file"), "x");
        MainTest.Result notDir = MainTest.run("export-onnx", "--network", "unet", "-o", file.toString());
        assertEquals(1, notDir.code());
        assertTrue(notDir.err().contains("not a directory"), notDir.err());
        MainTest.Result badSize = MainTest.run("export-onnx", "--network", "unet", "--size", "100", "-o", dir.resolve("x").toString());
        assertEquals(1, badSize.code());
        assertTrue(badSize.err().contains("--size 100"), badSize.err());
        assertEquals(List.of("file"), Files.list(dir).map(p -> p.getFileName().toString()).toList(), "nothing written");
        MainTest.Result help = MainTest.run("export-onnx", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("external-data") && help.out().contains("--weights"), help.out());
    }
}
