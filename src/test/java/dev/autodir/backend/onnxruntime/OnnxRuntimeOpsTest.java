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

    /**
     * Attention whose score matrix is over the block budget is exported in blocks of query rows (what keeps ONNX
     * Runtime from allocating B·H·Nq·Nk floats at once): with a 2000-byte budget the 37 query rows (464 bytes of
     * scores each) go in blocks of 4, the last one ragged, with causal and padding masks; the result equals the
     * float64 reference to float32 rounding (rel-L2 1e-6: sums of 29 terms).
     */
    @Test void largeAttentionIsExportedInBlocksOfQueryRowsAndComputesTheSame() throws Exception {
        assumeTrue(OnnxRuntimeAvailability.unavailableReason() == null, OnnxRuntimeAvailability.unavailableReason());
        int b = 2, nq = 37, nk = 29, c = 16, heads = 2;
        FloatTensor q = gaussian(71, b, nq, c), k = gaussian(72, b, nk, c),
                v = gaussian(73, b, nk, c);
        int[][] keep = new int[b][nk];
        for (int j = 0; j < nk; j++) { keep[0][j] = j < 20 ? 1 : 0; keep[1][j] = j % 3 == 2 ? 0 : 1; }
        String old = System.getProperty(dev.autodir.backend.onnx.OnnxExporter.ATTENTION_BLOCK_PROPERTY);
        System.setProperty(dev.autodir.backend.onnx.OnnxExporter.ATTENTION_BLOCK_PROPERTY, "2000");
        try (OnnxEachOp ort = new OnnxEachOp(new OnnxRuntimeOps(new CpuOps(), dir, null))) {
            for (dev.autodir.backend.AttentionMask m : List.of(dev.autodir.backend.AttentionMask.NONE, dev.autodir.backend.AttentionMask.of(true, keep))) {
                FloatTensor got = (FloatTensor) ort.download(ort.attention(q, k, v, heads, 0.35f, m));
                FloatTensor want = dev.autodir.backend.ReferenceOps.attention(q, k, v, heads, 0.35f, m);
                assertTrue(got.relL2(want) < 1e-6, m + ": rel-L2 " + got.relL2(want));
            }
        } finally {
            if (old == null) System.clearProperty(dev.autodir.backend.onnx.OnnxExporter.ATTENTION_BLOCK_PROPERTY);
            else System.setProperty(dev.autodir.backend.onnx.OnnxExporter.ATTENTION_BLOCK_PROPERTY, old);
        }
        long softmaxes = 0;
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".onnx")).toList()) softmaxes = Math.max(softmaxes, softmaxCount(f));
        }
        assertEquals(10, softmaxes, "ceil(37 / 4) blocks of query rows, one softmax each");

        // the same attention exported whole (what TensorRT builds from: it fuses the pattern itself)
        Network att = new Network() {
            @Override public String name() { return "att"; }
            @Override public List<TensorSpec> inputs() { return List.of(TensorSpec.float32("q", b, nq, c), TensorSpec.float32("k", b, nk, c), TensorSpec.float32("v", b, nk, c)); }
            @Override public WeightStore weights() { return new MemoryStore(); }
            @Override public Map<String, Tensor> forward(Ops o, Map<String, Tensor> in) {
                return Map.of("y", o.attention(in.get("q"), in.get("k"), in.get("v"), heads, 0.35f, dev.autodir.backend.AttentionMask.NONE));
            }
        };
        dev.autodir.backend.record.Graph g = dev.autodir.backend.record.Graph.record(att);
        assertEquals(1, softmaxCount(dev.autodir.backend.onnx.OnnxExporter.export(g, dir.resolve("whole"), false, null,
                dev.autodir.backend.onnx.OnnxExporter.WHOLE_ATTENTION).model()));
        assertEquals(10, softmaxCount(dev.autodir.backend.onnx.OnnxExporter.export(g, dir.resolve("blocks"), false, null, 2000).model()));
        assertEquals(1, softmaxCount(dev.autodir.backend.onnx.OnnxExporter.export(g, dir.resolve("default"), false, null).model()),
                "the default budget (1 GiB) keeps this small attention whole");
    }

    private static long softmaxCount(Path onnx) throws java.io.IOException {
        try (var in = Files.newInputStream(onnx)) {
            return dev.autodir.backend.onnx.proto.OnnxProto.ModelProto.parseFrom(in).getGraph().getNodeList().stream()
                    .filter(n -> n.getOpType().equals("Softmax")).count();
        }
    }

    private static FloatTensor gaussian(long seed, int... shape) {
        java.util.Random r = new java.util.Random(seed);
        FloatTensor t = FloatTensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) r.nextGaussian();
        return t;
    }
}
