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
