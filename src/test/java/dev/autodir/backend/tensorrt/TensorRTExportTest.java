package dev.autodir.backend.tensorrt;

import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.onnx.ExportedModel;
import dev.autodir.backend.onnxruntime.ExportCache;
import dev.autodir.backend.record.Graph;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.io.TensorInfo;
import dev.autodir.io.WeightStore;
import dev.autodir.model.AutoDIRConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine key from real ONNX exports (the exporter and the export cache the engines are built from), without TensorRT. */
class TensorRTExportTest {
    @TempDir Path dir;

    /** x [1, C, 2, 2] + a bias of the store (the first rank-1 float tensor of at most 64 values) per channel. */
    private static Network biasNetwork(WeightStore store) {
        String key = null;
        for (String k : store.keys()) {
            TensorInfo t = store.info(k);
            if (t.rank() == 1 && t.numel() <= 64 && t.numel() > 1) {
                key = k;
                break;
            }
        }
        String bias = key;
        int c = (int) store.info(bias).numel();
        List<TensorSpec> in = List.of(TensorSpec.float32("x", 1, c, 2, 2));
        return new Network() {
            @Override public String name() { return "scm"; }

            @Override public List<TensorSpec> inputs() { return in; }

            @Override public WeightStore weights() { return store; }

            @Override public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
                return Map.of("y", ops.addPerChannel(inputs.get("x"), ops.weight(store, bias)));
            }
        };
    }

    @Test void theKeyFollowsTheExportAndIsStableOnReuse() {
        AutoDIRConfig cfg = AutoDIRConfig.official();
        Network n = biasNetwork(new RandomWeightStore(cfg, 7));
        EngineRecipe recipe = EngineRecipe.defaults("scm");
        EngineKey first, again, otherWeights;
        try (ExportCache cache = new ExportCache(dir.resolve("onnx"))) {
            ExportCache.Entry e = cache.get(Graph.record(n));
            assertFalse(e.reused());
            ExportedModel m = e.model();
            assertTrue(m.model().startsWith(dir.resolve("onnx")), m.model().toString());
            first = TensorRTOps.engineKey(n, m, recipe, EnginePrecision.FP16, TrtFixtures.H200);
            assertEquals(CacheFiles.sha256(m.model()), first.graphHash());
            assertEquals(m.weightsHash(), first.weightsHash());
            assertEquals(n.inputs(), first.inputs());
            assertEquals(List.of(TensorSpec.float32("y", n.inputs().get(0).shape())), first.outputs());
        }
        try (ExportCache cache = new ExportCache(dir.resolve("onnx"))) {   // a later run: the export is reused
            ExportCache.Entry e = cache.get(Graph.record(n));
            assertTrue(e.reused());
            again = TensorRTOps.engineKey(n, e.model(), recipe, EnginePrecision.FP16, TrtFixtures.H200);
            otherWeights = TensorRTOps.engineKey(biasNetwork(new RandomWeightStore(cfg, 8)),
                    cache.get(Graph.record(biasNetwork(new RandomWeightStore(cfg, 8)))).model(), recipe, EnginePrecision.FP16, TrtFixtures.H200);
        }
        assertEquals(first, again, "a reused export gives the same engine key: the cached engine is found");
        assertNotEquals(first.weightsHash(), otherWeights.weightsHash());
        assertNotEquals(first.id(), otherWeights.id(), "other weights, another engine");
    }

    @Test void anExportOfOtherInputsIsRefused() throws Exception {
        Network n = biasNetwork(new RandomWeightStore(AutoDIRConfig.official(), 7));
        Path model = Files.writeString(dir.resolve("scm.onnx"), "graph");
        ExportedModel wrong = new ExportedModel("scm", model, null, null, "h", List.of(TensorSpec.float32("x", 1, 1, 4, 4)),
                List.of(TensorSpec.float32("y", 1, 1, 4, 4)), "fp32");
        String e = assertThrows(IllegalStateException.class, () -> TensorRTOps.engineKey(n, wrong, EngineRecipe.defaults("scm"), EnginePrecision.FP16,
                TrtFixtures.H200)).getMessage();
        assertTrue(e.startsWith("scm: the ONNX export has inputs [x float32 [1, 1, 4, 4]], the network [x float32 [1, "), e);
    }

    /**
     * TensorRT builds from exports with every attention whole (it fuses the pattern into its own attention kernels),
     * whatever block budget ONNX Runtime's exports use.
     */
    @Test void tensorRtExportsKeepAttentionWhole() throws Exception {
        try (ExportCache trt = TensorRTOps.exportCache(dir.resolve("trt")); ExportCache ort = new ExportCache(dir.resolve("ort"))) {
            assertEquals(dev.autodir.backend.onnx.OnnxExporter.WHOLE_ATTENTION, trt.attentionBlockBytes());
            assertEquals(dev.autodir.backend.onnx.OnnxExporter.ATTENTION_BLOCK_BYTES, ort.attentionBlockBytes());
        }
    }
}
