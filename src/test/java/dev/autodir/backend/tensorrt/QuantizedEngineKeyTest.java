package dev.autodir.backend.tensorrt;

import dev.autodir.backend.Network;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.onnx.QuantPlan;
import dev.autodir.backend.onnxruntime.ExportCache;
import dev.autodir.backend.record.Graph;
import dev.autodir.engine.TinyModel;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.model.Networks;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.CalibrationRecorder;
import dev.autodir.quant.Calibrator;
import dev.autodir.quant.QuantFormat;
import dev.autodir.quant.QuantRecipe;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * INT8 / FP8 engines are cached like the float ones: built from the QDQ export, so the precision and the calibration
 * (its scales are in the graph) are part of the engine key. Checked without TensorRT, from real exports.
 */
class QuantizedEngineKeyTest {
    @TempDir Path dir;

    private static Calibration calibration(AutoDIRModels models, Network net, double widen) {
        QuantRecipe recipe = QuantRecipe.defaults(List.of(), List.of());
        try (CpuOps cpu = new CpuOps()) {
            CalibrationRecorder rec = new CalibrationRecorder(cpu, recipe);
            Map<String, Tensor> in = new LinkedHashMap<>();
            for (var s : net.inputs()) in.put(s.name(), rec.upload(seeded(s.shape())));
            try (var c = rec.compile(net)) {
                c.run(in);
            }
            Map<String, Calibration.Layer> layers = new LinkedHashMap<>();
            rec.layers(1.0, 0.5).forEach((k, l) -> layers.put(k, new Calibration.Layer(l.op(), l.amax() * widen, l.percentileAmax() * widen, l.values(), l.smoothQuant())));
            return new Calibration(Calibrator.weightsHash(models.store(), layers.keySet()), new Calibration.Settings(0, 1, 1.0, 0.5, 1),
                    List.of(new Calibration.Image("generated", "-", 16, 16)), recipe.exclusions(), layers);
        }
    }

    /** Values in [-1, 1] (a scalar input, the SCM weight: 1). */
    private static FloatTensor seeded(int[] shape) {
        FloatTensor t = FloatTensor.zeros(shape);
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = t.numel() == 1 ? 1f : (float) (r.nextDouble() * 2 - 1);
        return t;
    }

    @Test void precisionAndCalibrationArePartOfTheKey() {
        try (AutoDIRModels models = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()))) {
            Network net = Networks.scm(models, 1, 16, 16);
            Calibration a = calibration(models, net, 1.0), b = calibration(models, net, 2.0);
            EngineRecipe recipe = EngineRecipe.defaults("scm");
            EngineKey fp16, int8a, int8aAgain, int8b, fp8a;
            try (ExportCache cache = new ExportCache(dir.resolve("onnx"))) {
                fp16 = TensorRTOps.engineKey(net, cache.get(Graph.record(net)).model(), recipe, EnginePrecision.FP16, TrtFixtures.H200);
                int8a = TensorRTOps.engineKey(net, cache.get(Graph.record(net), new QuantPlan(QuantFormat.INT8, a)).model(), recipe, EnginePrecision.INT8, TrtFixtures.H200);
                int8b = TensorRTOps.engineKey(net, cache.get(Graph.record(net), new QuantPlan(QuantFormat.INT8, b)).model(), recipe, EnginePrecision.INT8, TrtFixtures.H200);
                fp8a = TensorRTOps.engineKey(net, cache.get(Graph.record(net), new QuantPlan(QuantFormat.FP8_E4M3, a)).model(), recipe, EnginePrecision.FP8, TrtFixtures.H200);
            }
            try (ExportCache cache = new ExportCache(dir.resolve("onnx"))) {       // a later run with the same calibration
                ExportCache.Entry e = cache.get(Graph.record(net), new QuantPlan(QuantFormat.INT8, a));
                assertTrue(e.reused(), "the QDQ export of one calibration is reused");
                int8aAgain = TensorRTOps.engineKey(net, e.model(), recipe, EnginePrecision.INT8, TrtFixtures.H200);
            }
            assertEquals(int8a, int8aAgain, "the same calibration finds the cached INT8 engine");
            assertNotEquals(int8a.id(), int8b.id(), "another calibration, another engine");
            assertNotEquals(int8a.graphHash(), int8b.graphHash(), "the calibration's scales are in the graph");
            assertNotEquals(int8a.id(), fp8a.id(), "another precision, another engine");
            assertNotEquals(fp16.id(), int8a.id());
            assertEquals(fp16.weightsHash(), int8a.weightsHash(), "the weights hash is of the float32 weights the engine came from");
        }
    }

    @Test void fp8NeedsAdaOrHopperAndSaysSo() {
        assertNull(EnginePrecision.FP8.unsupportedReason("9.0"));
        assertNull(EnginePrecision.FP8.unsupportedReason("8.9"));
        assertEquals("FP8 engines need compute capability 8.9 or newer (Ada, Hopper); this GPU has 8.6", EnginePrecision.FP8.unsupportedReason("8.6"));
        assertNull(EnginePrecision.INT8.unsupportedReason("7.5"));
    }
}
