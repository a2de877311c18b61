package dev.autodir.backend.tensorrt;

import dev.autodir.backend.Network;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.onnx.ExportedModel;
import dev.autodir.io.WeightStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OnnxExportsTest {
    @TempDir Path dir;
    private Path weightsFile;
    private WeightStore store;
    private TrtFixtures.FakeExporter exporter;
    private OnnxExports exports;

    @BeforeEach void setUp() throws IOException {
        weightsFile = dir.resolve("w.safetensors");
        Files.write(weightsFile, new byte[100]);
        store = TrtFixtures.store(weightsFile);
        exporter = new TrtFixtures.FakeExporter();
        exports = new OnnxExports(dir.resolve("cache/onnx"), exporter);
    }

    @Test void anExportIsReusedWhileItsSourceIsUnchanged() {
        Network n = TrtFixtures.network("scm", store, 1, 6, 8, 8);
        ExportedModel first = exports.exportOrReuse(n, false);
        assertEquals(1, exporter.calls);
        assertEquals("scm", first.network());
        assertEquals(List.of(TensorSpec.float32("x", 1, 6, 8, 8)), first.inputs());
        assertEquals(List.of(TensorSpec.float32("y", 1, 6, 8, 8)), first.outputs(), "the outputs the exporter reported");
        assertTrue(first.model().startsWith(exports.directoryOf(n)), first.model() + " lies in the export folder");
        ExportedModel again = exports.exportOrReuse(n, false);
        assertEquals(1, exporter.calls, "reused, not exported again");
        assertEquals(first, again);
        assertTrue(Files.isRegularFile(again.model()) && Files.isRegularFile(again.externalData()));
    }

    @Test void changedWeightsShapesOrExporterExportAgain() throws IOException {
        Network n = TrtFixtures.network("scm", store, 1, 6, 8, 8);
        ExportedModel first = exports.exportOrReuse(n, false);
        Files.write(weightsFile, new byte[101]);
        ExportedModel second = exports.exportOrReuse(n, false);
        assertEquals(2, exporter.calls, "the checkpoint changed size");
        assertNotEquals(first.weightsHash(), second.weightsHash());
        Files.setLastModifiedTime(weightsFile, FileTime.fromMillis(Files.getLastModifiedTime(weightsFile).toMillis() - 60_000));
        exports.exportOrReuse(n, false);
        assertEquals(3, exporter.calls, "the checkpoint changed its modification time");
        exports.exportOrReuse(TrtFixtures.network("scm", store, 1, 6, 16, 16), false);
        assertEquals(4, exporter.calls, "other shapes are another export");
        exporter.version = "fake-2";
        exports.exportOrReuse(n, false);
        assertEquals(5, exporter.calls, "a new exporter version exports again");
        exports.exportOrReuse(n, true);
        assertEquals(6, exporter.calls, "a forced rebuild exports again");
        exports.exportOrReuse(n, false);
        assertEquals(6, exporter.calls);
    }

    @Test void aDamagedExportIsReplaced() throws IOException {
        Network n = TrtFixtures.network("scm", store, 1, 6, 8, 8);
        ExportedModel first = exports.exportOrReuse(n, false);
        Files.write(first.externalData(), new byte[3]);
        ExportedModel second = exports.exportOrReuse(n, false);
        assertEquals(2, exporter.calls, "external data of the wrong size");
        assertEquals(64, Files.size(second.externalData()));
        Files.delete(second.model());
        exports.exportOrReuse(n, false);
        assertEquals(3, exporter.calls, "a missing model file");
        Files.writeString(exports.directoryOf(n).resolve(OnnxExports.INDEX), "{ garbage");
        exports.exportOrReuse(n, false);
        assertEquals(4, exporter.calls, "an unreadable index");
        try (var s = Files.list(dir.resolve("cache/onnx"))) {
            assertEquals(1, s.count(), "the old folder was replaced, no temporary folders left");
        }
    }

    @Test void anExporterWritingElsewhereIsRefused() {
        exporter.writeOutside = dir.resolve("stray.onnx");
        String m = assertThrows(IllegalStateException.class, () -> exports.exportOrReuse(TrtFixtures.network("scm", store, 1, 6, 8, 8), false)).getMessage();
        assertTrue(m.startsWith("scm: the exporter wrote " + dir.resolve("stray.onnx") + " outside its folder"), m);
    }

    @Test void theEngineKeyComesFromTheExport() throws IOException {
        Network n = TrtFixtures.network("scm", store, 1, 6, 8, 8);
        ExportedModel m = exports.exportOrReuse(n, false);
        EngineRecipe recipe = EngineRecipe.defaults("scm");
        EngineKey k = TensorRTOps.engineKey(n, m, recipe, EnginePrecision.FP16, TrtFixtures.H200);
        assertEquals(CacheFiles.sha256(m.model()), k.graphHash());
        assertEquals(m.weightsHash(), k.weightsHash());
        assertEquals(n.inputs(), k.inputs());
        assertEquals(m.outputs(), k.outputs());
        assertEquals(3, k.optimizationLevel());
        Files.writeString(m.model(), "another graph");
        assertNotEquals(k.id(), TensorRTOps.engineKey(n, m, recipe, EnginePrecision.FP16, TrtFixtures.H200).id(), "a changed graph is another engine");
        ExportedModel wrong = new ExportedModel("scm", m.model(), m.externalData(), m.manifest(), m.weightsHash(), List.of(TensorSpec.float32("x", 1, 6, 4, 4)),
                m.outputs(), m.precision());
        String e = assertThrows(IllegalStateException.class, () -> TensorRTOps.engineKey(n, wrong, recipe, EnginePrecision.FP16, TrtFixtures.H200)).getMessage();
        assertTrue(e.startsWith("scm: the ONNX export has inputs [x float32 [1, 6, 4, 4]], the network [x float32 [1, 6, 8, 8]]"), e);
    }
}
