package dev.autodir.backend.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.OpsConformanceTest.MemoryStore;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.onnx.proto.OnnxProto;
import dev.autodir.backend.record.Graph;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The files an export writes: the ONNX model, its external data, the manifest; never half of them, never over an export. */
class OnnxExporterTest {
    @TempDir Path dir;

    private static FloatTensor random(long seed, int... shape) {
        Random r = new Random(seed);
        FloatTensor t = FloatTensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) r.nextGaussian();
        return t;
    }

    /** linear(x, w [512, 600] — 1.2 MB, aligned —, b [512]) then a 1×1 convolution by the small k [2, 512, 1, 1]. */
    private static Network network(WeightStore store) {
        return new Network() {
            @Override public String name() { return "tiny"; }

            @Override public List<TensorSpec> inputs() { return List.of(TensorSpec.float32("x", 1, 3, 600)); }

            @Override public WeightStore weights() { return store; }

            @Override public Map<String, Tensor> forward(Ops o, Map<String, Tensor> in) {
                Tensor h = o.linear(in.get("x"), o.weight(store, "w"), o.weight(store, "b"));                   // [1, 3, 512]
                Tensor img = o.reshape(o.concat(List.of(h, h), 1), 1, 512, 2, 3);
                return Map.of("y", o.conv2d(img, o.weight(store, "k"), null, 1, 0, 1));
            }
        };
    }

    private static MemoryStore store(long seed) {
        return new MemoryStore().put("w", random(seed, 512, 600)).put("b", random(seed + 1, 512)).put("k", random(seed + 2, 2, 512, 1, 1));
    }

    @Test void writesAnOnnxModelWithItsWeightsAsExternalDataAndAManifest() throws IOException {
        MemoryStore store = store(1);
        Graph g = Graph.record(network(store));
        ExportedModel e = OnnxExporter.export(g, dir);
        assertEquals(dir.resolve("tiny.onnx"), e.model());
        assertEquals(dir.resolve("tiny.onnx.data"), e.externalData());
        assertEquals(OnnxExporter.weightsHash(g), e.weightsHash());
        OnnxProto.ModelProto m;
        try (InputStream in = Files.newInputStream(e.model())) {
            m = OnnxProto.ModelProto.parseFrom(in);
        }
        assertEquals(OnnxExporter.IR_VERSION, m.getIrVersion());
        assertEquals(OnnxExporter.OPSET, m.getOpsetImport(0).getVersion());
        assertEquals("x", m.getGraph().getInput(0).getName());
        assertEquals(List.of(1L, 3L, 600L), m.getGraph().getInput(0).getType().getTensorType().getShape().getDimList().stream()
                .map(OnnxProto.TensorShapeProto.Dimension::getDimValue).toList());
        assertEquals("y", m.getGraph().getOutput(0).getName());
        // every weight is an external initializer named by its checkpoint key; its bytes are the weight's float32 values
        try (FileChannel data = FileChannel.open(e.externalData(), StandardOpenOption.READ)) {
            for (String key : List.of("w", "b", "k")) {
                OnnxProto.TensorProto t = m.getGraph().getInitializerList().stream().filter(i -> i.getName().equals(key)).findFirst().orElseThrow();
                assertEquals(OnnxProto.TensorProto.DataLocation.EXTERNAL, t.getDataLocation(), key);
                Map<String, String> ext = new java.util.HashMap<>();
                t.getExternalDataList().forEach(kv -> ext.put(kv.getKey(), kv.getValue()));
                assertEquals("tiny.onnx.data", ext.get("location"));
                long offset = Long.parseLong(ext.get("offset")), length = Long.parseLong(ext.get("length"));
                FloatTensor w = store.readFloat(key);
                assertEquals(4L * w.numel(), length, key);
                if (length >= OnnxExporter.ALIGN_FROM) assertEquals(0, offset % OnnxExporter.ALIGNMENT, key + " is not aligned");
                ByteBuffer b = ByteBuffer.allocate((int) length).order(ByteOrder.LITTLE_ENDIAN);
                data.read(b, offset);
                b.flip();
                float[] back = new float[w.numel()];
                b.asFloatBuffer().get(back);
                assertTrue(java.util.Arrays.equals(w.data(), back), key + " bytes differ");
            }
        }
        JsonNode manifest = new ObjectMapper().readTree(e.manifest().toFile());
        assertEquals(OnnxExporter.VERSION, manifest.path("exporterVersion").asText());
        assertEquals(e.weightsHash(), manifest.path("weightsHash").asText());
        assertEquals("y", manifest.path("outputs").get(0).path("name").asText());
        assertEquals("[1,2,2,3]", manifest.path("outputs").get(0).path("shape").toString());
        assertEquals(e, OnnxExporter.read(e.manifest()));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("tiny.json", "tiny.onnx", "tiny.onnx.data"), files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "no temporary file is left");
        }
    }

    @Test void theWeightsHashIsOfTheirContent() {
        String h1 = OnnxExporter.weightsHash(Graph.record(network(store(1))));
        assertEquals(h1, OnnxExporter.weightsHash(Graph.record(network(store(1)))));
        MemoryStore changed = store(1);
        FloatTensor k = changed.readFloat("k");
        k.data()[7] = Math.nextUp(k.data()[7]);                         // one ulp of one value
        changed.put("k", k);
        assertNotEquals(h1, OnnxExporter.weightsHash(Graph.record(network(changed))));
        assertEquals(OnnxExporter.graphHash(Graph.record(network(store(1)))), OnnxExporter.graphHash(Graph.record(network(changed))),
                "the graph's structure does not depend on the weights' values");
    }

    @Test void neverReplacesAnExportUnlessAsked() throws IOException {
        Graph g = Graph.record(network(store(1)));
        ExportedModel first = OnnxExporter.export(g, dir);
        byte[] before = Files.readAllBytes(first.externalData());
        Graph other = Graph.record(network(store(2)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxExporter.export(other, dir));
        assertTrue(e.getMessage().contains("tiny.onnx") && e.getMessage().contains("--overwrite"), e.getMessage());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(first.externalData())), "the export was changed");
        ExportedModel second = OnnxExporter.export(other, dir, true);
        assertNotEquals(first.weightsHash(), second.weightsHash());
        assertEquals(second, OnnxExporter.read(second.manifest()));
    }

    @Test void aTruncatedOrForeignExportIsRecognised() throws IOException {
        ExportedModel e = OnnxExporter.export(Graph.record(network(store(1))), dir);
        try (FileChannel ch = FileChannel.open(e.externalData(), StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 4);
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> OnnxExporter.read(e.manifest()));
        assertTrue(bad.getMessage().contains("tiny.onnx.data"), bad.getMessage());
        Files.writeString(e.manifest(), "{\"format\": \"something else\"}");
        assertThrows(IllegalArgumentException.class, () -> OnnxExporter.read(e.manifest()));
    }

    @Test void aNetworkWithoutWeightsHasNoDataFile() {
        MemoryStore none = new MemoryStore();
        Network n = new Network() {
            @Override public String name() { return "plain"; }
            @Override public List<TensorSpec> inputs() { return List.of(TensorSpec.float32("x", 2, 3)); }
            @Override public WeightStore weights() { return none; }
            @Override public Map<String, Tensor> forward(Ops o, Map<String, Tensor> in) { return Map.of("y", o.softmax(in.get("x"))); }
        };
        ExportedModel e = OnnxExporter.export(Graph.record(n), dir);
        assertNull(e.externalData());
        assertTrue(Files.exists(e.model()) && !Files.exists(dir.resolve("plain.onnx.data")));
        assertEquals(e, OnnxExporter.read(e.manifest()));
    }
}
