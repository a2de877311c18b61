package dev.autodir.quant;

import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.onnx.ExportedModel;
import dev.autodir.backend.onnx.OnnxExporter;
import dev.autodir.backend.onnx.QuantPlan;
import dev.autodir.backend.onnx.proto.OnnxProto;
import dev.autodir.backend.onnxruntime.OnnxRuntimeAvailability;
import dev.autodir.backend.onnxruntime.OnnxRuntimeOps;
import dev.autodir.backend.record.Graph;
import dev.autodir.engine.TinyModel;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.model.Networks;
import dev.autodir.pipeline.BIQA;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;
import dev.autodir.text.CLIPTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * INT8 QDQ exports of golden set A's networks run on ONNX Runtime: the graph must compute the quantized function (the
 * fake-quantized cpu reference) and so stay as near the float32 network as quantization allows.
 */
class QdqExportTest {
    static AutoDIRModels models;

    @BeforeAll static void load() {
        assumeTrue(OnnxRuntimeAvailability.unavailableReason() == null, () -> "onnxruntime: " + OnnxRuntimeAvailability.unavailableReason());
        models = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()));
    }

    @AfterAll static void close() { if (models != null) models.close(); }

    private static Network network(String name) {
        int tokens = models.config().clipText().maxPositions();
        return switch (name) {
            case "unet" -> Networks.unet(models, 1, 18, 22, tokens);
            case "vae-encode" -> Networks.vaeEncode(models, 1, 36, 44);
            case "vae-decode" -> Networks.vaeDecode(models, 1, 18, 22);
            case "scm" -> Networks.scm(models, 1, 36, 44);
            default -> Networks.biqa(models, BIQA.CLASSES.size(), tokens);
        };
    }

    /** Seeded inputs of the spec's shapes: images and latents N(0, 0.5²) clipped to [-1, 1], the BIQA prompts' ids and masks. */
    private static Map<String, Object> inputs(Network net, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, Object> in = new LinkedHashMap<>();
        CLIPTokenizer tok = CLIPTokenizer.loadDefault();
        int k = BIQA.CLASSES.size();
        int[][] ids = new int[k][], mask = new int[k][];
        for (int i = 0; i < k; i++) {
            var t = tok.encode(BIQA.prompt(BIQA.CLASSES.get(i)));
            ids[i] = BIQA.foldIds(t.ids(), models.config().clipText().vocabSize(), tok.vocabularySize(), tok.bosId(), tok.eosId());
            mask[i] = t.attentionMask();
        }
        for (TensorSpec s : net.inputs()) {
            switch (s.name()) {
                case "input_ids" -> in.put(s.name(), IntTensor.of(ids));
                case "attention_mask" -> in.put(s.name(), IntTensor.of(mask));
                case "timesteps" -> in.put(s.name(), new FloatTensor(new float[] {(float) (1 + r.nextInt(998)) + 0.5f}, 1));
                case "scm_weight" -> in.put(s.name(), new FloatTensor(new float[] {1f}, 1));
                case "class_bias" -> in.put(s.name(), FloatTensor.zeros(s.shape()));
                default -> {
                    FloatTensor t = FloatTensor.zeros(s.shape());
                    for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) Math.max(-1, Math.min(1, r.nextGaussian() * 0.5));
                    in.put(s.name(), t);
                }
            }
        }
        return in;
    }

    private static FloatTensor run(Ops ops, Network net, Map<String, Object> host) {
        Map<String, Tensor> in = new LinkedHashMap<>();
        host.forEach((k, v) -> in.put(k, v instanceof IntTensor i ? ops.upload(i) : ops.upload((FloatTensor) v)));
        try (var c = ops.compile(net)) {
            return ops.download(c.run(in).values().iterator().next());
        }
    }

    /** The network's layers calibrated on four draws of its input distribution (max ranges, SmoothQuant α 0.5). */
    private static Calibration calibrate(Network net) {
        QuantRecipe recipe = QuantRecipe.defaults(List.of(), List.of());
        try (CpuOps cpu = new CpuOps()) {
            CalibrationRecorder rec = new CalibrationRecorder(cpu, recipe);
            for (long seed = 1; seed <= 4; seed++) run(rec, net, inputs(net, seed));
            Map<String, Calibration.Layer> layers = rec.layers(1.0, 0.5);
            return new Calibration(Calibrator.weightsHash(models.store(), layers.keySet()), new Calibration.Settings(0, 1, 1.0, 0.5, 1),
                    List.of(new Calibration.Image("generated", "-", 0, 0)), recipe.exclusions(), layers);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"unet", "vae-encode", "vae-decode", "scm", "biqa"})
    void int8ExportComputesTheQuantizedFunction(String name) { computesTheQuantizedFunction(name, QuantFormat.INT8); }

    /** FP8 E4M3 Q/DQ (opset 19) on ONNX Runtime's CPU kernels: the same function as the FP8 fake-quantized reference. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"vae-decode", "scm", "biqa"})
    void fp8ExportComputesTheQuantizedFunction(String name) { computesTheQuantizedFunction(name, QuantFormat.FP8_E4M3); }

    private void computesTheQuantizedFunction(String name, QuantFormat format) {
        Network net = network(name);
        Calibration calibration = calibrate(net);
        Map<String, Object> in = inputs(net, 17);
        // the same input with every float element moved by a relative 1e-6 (float32 rounding of a few operations):
        // how far the quantized function itself moves when its arithmetic is not bit for bit the same
        Map<String, Object> nudged = new LinkedHashMap<>(in);
        SplittableRandom r = new SplittableRandom(5);
        in.forEach((k, v) -> {
            if (v instanceof FloatTensor f && f.numel() > 1) {
                FloatTensor c = f.copy();
                for (int i = 0; i < c.numel(); i++) c.data()[i] *= (float) (1 + 1e-6 * (r.nextDouble() * 2 - 1));
                nudged.put(k, c);
            }
        });
        FloatTensor fp32, fake, fakeNudged, ort;
        try (CpuOps cpu = new CpuOps()) {
            fp32 = run(cpu, net, in);
            FakeQuantOps fq = new FakeQuantOps(cpu, calibration, format);
            fake = run(fq, net, in);
            fakeNudged = run(fq, net, nudged);
        }
        try (OnnxRuntimeOps o = new OnnxRuntimeOps(new CpuOps(), null, null, new QuantPlan(format, calibration))) {
            ort = run(o, net, in);
        }
        double quantization = fake.relL2(fp32), graph = ort.relL2(fake), total = ort.relL2(fp32), chaos = fakeNudged.relL2(fake);
        // ONNX Runtime and the fake-quantized reference compute the same quantized function, so they agree to float32
        // rounding (measured ≤ 1e-6 on the VAE, SCM and BIQA) — unless the function is itself so sensitive that
        // rounding-size differences flip quantization levels that then cascade: the tiny random UNet is (a relative 1e-6
        // nudge of its input moves its output by most of the quantization error, measured 0.034 against 0.045), and
        // there the graph must stay within that sensitivity. A missing Q/DQ pair, a wrong scale or a transposed weight
        // moves a non-chaotic network by O(quantization) (a fifth is the bound), and the structural test below
        // catches the first two in every network.
        double bound = Math.max(0.2 * quantization, 1.5 * chaos) + 1e-5;
        assertTrue(graph <= bound, name + ": onnxruntime " + format + " vs the fake-quantized reference " + graph
                + " > " + bound + " (quantization error " + quantization + ", the reference's own sensitivity " + chaos + ")");
        // and against float32: calibrated on the input's own distribution the int8 networks stay within a few percent
        // (measured 0.027–0.045, the BIQA logits 0.14); < 0.3 allows the random draws, nothing quantized gives < 1e-4
        assertTrue(total < 0.3 && quantization > 1e-4, name + ": " + format + " vs float32 " + total + " (quantization " + quantization + ")");
    }

    /** Every calibrated layer's weight is stored as int8 behind one DequantizeLinear, and every such layer's input goes
     *  through a QuantizeLinear whose scale is the calibrated one; nothing else is quantized. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"unet", "vae-encode", "vae-decode", "scm", "biqa"})
    void int8ExportQuantizesExactlyTheCalibratedLayers(String name, @TempDir Path dir) throws Exception {
        Network net = network(name);
        Calibration calibration = calibrate(net);
        QuantPlan plan = new QuantPlan(QuantFormat.INT8, calibration);
        ExportedModel exported = OnnxExporter.export(Graph.record(net), dir, false, plan);
        OnnxProto.ModelProto m;
        try (var in = Files.newInputStream(exported.model())) {
            m = OnnxProto.ModelProto.parseFrom(in);
        }
        Map<String, OnnxProto.TensorProto> inits = new HashMap<>();
        for (OnnxProto.TensorProto t : m.getGraph().getInitializerList()) inits.put(t.getName(), t);
        Set<String> dequantizedWeights = new HashSet<>();
        Set<Float> activationScales = new HashSet<>();
        int quantizeNodes = 0;
        for (OnnxProto.NodeProto n : m.getGraph().getNodeList()) {
            if (n.getOpType().equals("DequantizeLinear") && calibration.layers().containsKey(n.getInput(0))) {
                assertTrue(dequantizedWeights.add(n.getInput(0)), "one DequantizeLinear per weight: " + n.getInput(0));
                assertEquals(OnnxProto.TensorProto.DataType.INT8_VALUE, inits.get(n.getInput(0)).getDataType(), n.getInput(0));
            }
            if (n.getOpType().equals("QuantizeLinear")) {
                quantizeNodes++;
                OnnxProto.TensorProto sc = inits.get(n.getInput(1));
                assertNotNull(sc, "the activation scale of " + n.getName() + " is an initializer");
                activationScales.add(java.nio.ByteBuffer.wrap(sc.getRawData().toByteArray()).order(java.nio.ByteOrder.LITTLE_ENDIAN).getFloat());
            }
        }
        assertEquals(calibration.layers().keySet(), dequantizedWeights, name + ": the int8 weights are the calibrated layers'");
        assertTrue(quantizeNodes >= calibration.layers().size(), name + ": " + quantizeNodes + " QuantizeLinear for "
                + calibration.layers().size() + " layers");
        Set<Float> expected = new HashSet<>();
        for (String k : calibration.layers().keySet()) expected.add(plan.activationScale(k));
        assertEquals(expected, activationScales, name + ": the activation scales are the calibrated ones");
    }
}
