package dev.autodir.backend.onnxruntime;

import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.OpsConformanceTest.MemoryStore;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.io.WeightStore;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The onnxruntime backend's export cache, its lifetime and its fallback. */
class OnnxRuntimeOpsTest {
    @TempDir Path dir;

    private static Network scaled(float s, WeightStore store) {
        return new Network() {
            @Override public String name() { return "scaled"; }
            @Override public List<TensorSpec> inputs() { return List.of(TensorSpec.float32("x", 2, 4)); }
            @Override public WeightStore weights() { return store; }
            @Override public Map<String, Tensor> forward(Ops o, Map<String, Tensor> in) {
                return Map.of("y", o.scale(o.add(in.get("x"), o.weight(store, "b")), s));
            }
        };
    }

    @Test void exportsAreReusedAcrossRunsWhenTheGraphAndWeightsAreTheSame() throws Exception {
        assumeTrue(OnnxRuntimeAvailability.unavailableReason() == null, OnnxRuntimeAvailability.unavailableReason());
        MemoryStore store = new MemoryStore().put("b", new FloatTensor(new float[] {1, 2, 3, 4}, 4));
        FloatTensor x = new FloatTensor(new float[] {0, 1, 2, 3, 4, 5, 6, 7}, 2, 4);
        try (OnnxRuntimeOps ort = new OnnxRuntimeOps(new CpuOps(), dir, null)) {
            try (CompiledNetwork c = ort.compile(scaled(2f, store))) {
                assertTrue(c.describe().contains("written to"), c.describe());
                assertEquals(List.of(2f, 6f, 10f, 14f, 10f, 14f, 18f, 22f), list((FloatTensor) c.run(Map.of("x", x)).get("y")));
            }
        }
        try (OnnxRuntimeOps ort = new OnnxRuntimeOps(new CpuOps(), dir, null)) {       // a second run, same folder
            try (CompiledNetwork c = ort.compile(scaled(2f, store))) {
                assertTrue(c.describe().contains("reused from"), c.describe());
                assertEquals(2f, ((FloatTensor) c.run(Map.of("x", x)).get("y")).data()[0]);
            }
            try (CompiledNetwork c = ort.compile(scaled(3f, store))) {                // same name and inputs, another graph
                assertTrue(c.describe().contains("written to"), c.describe());
                assertEquals(3f, ((FloatTensor) c.run(Map.of("x", x)).get("y")).data()[0]);
            }
            store.put("b", new FloatTensor(new float[] {5, 2, 3, 4}, 4));              // same graph, other weights
            try (OnnxRuntimeOps fresh = new OnnxRuntimeOps(new CpuOps(), dir, null);
                 CompiledNetwork c = fresh.compile(scaled(2f, store))) {
                assertTrue(c.describe().contains("written to"), c.describe());
                assertEquals(10f, ((FloatTensor) c.run(Map.of("x", x)).get("y")).data()[0]);
            }
        }
        try (Stream<Path> folders = Files.list(dir)) {
            assertEquals(3, folders.count(), "one folder per graph and weights");
        }
    }

    @Test void aTemporaryCacheIsDeletedOnClose() {
        assumeTrue(OnnxRuntimeAvailability.unavailableReason() == null, OnnxRuntimeAvailability.unavailableReason());
        MemoryStore store = new MemoryStore().put("b", new FloatTensor(new float[] {1, 2, 3, 4}, 4));
        Path root;
        OnnxRuntimeOps ort = new OnnxRuntimeOps(new CpuOps(), null, null);
        CompiledNetwork c = ort.compile(scaled(2f, store));                           // left open: the backend closes it
        root = Path.of(ort.describe().replaceAll(".* exports in (\\S+) \\(temporary\\)$", "$1"));
        assertTrue(Files.isDirectory(root), root.toString());
        ort.close();
        assertFalse(Files.exists(root), "the temporary cache is still there: " + root);
        assertThrows(IllegalStateException.class, () -> c.run(Map.of("x", FloatTensor.zeros(2, 4))));
        assertTrue(ort.describe().startsWith("onnxruntime "), ort.describe());
    }

    @Test void wrongInputsAreRefusedNamingTheInput() {
        assumeTrue(OnnxRuntimeAvailability.unavailableReason() == null, OnnxRuntimeAvailability.unavailableReason());
        MemoryStore store = new MemoryStore().put("b", new FloatTensor(new float[] {1, 2, 3, 4}, 4));
        try (OnnxRuntimeOps ort = new OnnxRuntimeOps(new CpuOps(), null, null); CompiledNetwork c = ort.compile(scaled(2f, store))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.run(Map.of("x", FloatTensor.zeros(2, 5))));
            assertTrue(e.getMessage().contains("input x"), e.getMessage());
        }
    }

    @Test void anUnavailableRuntimeFallsBackToCpuAndSaysSo() {
        String before = System.getProperty("autodir.onnxruntime.disable");
        System.setProperty("autodir.onnxruntime.disable", "true");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (StageBackends b = Backends.create(BackendSpec.parse("unet=onnxruntime"), Precision.FP32, new PrintStream(buf, true, StandardCharsets.UTF_8))) {
            assertInstanceOf(CpuOps.class, b.unet());
            String notice = buf.toString(StandardCharsets.UTF_8).trim();
            assertEquals("autodir: onnxruntime backend unavailable for stage unet (disabled by -Dautodir.onnxruntime.disable=true); it runs on cpu in fp32", notice);
        } finally {
            if (before == null) System.clearProperty("autodir.onnxruntime.disable");
            else System.setProperty("autodir.onnxruntime.disable", before);
        }
    }

    @Test void backendSpecNamesIt() {
        BackendSpec s = BackendSpec.parse("onnxruntime,clip=cpu");
        assertEquals("onnxruntime", s.unet());
        assertEquals("cpu", s.clip());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BackendSpec.parse("onnx"));
        assertTrue(e.getMessage().contains("onnxruntime"), e.getMessage());
    }

    private static List<Float> list(FloatTensor t) {
        List<Float> l = new java.util.ArrayList<>();
        for (float v : t.data()) l.add(v);
        return l;
    }
}
