package dev.autodir.quant;

import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.engine.TinyModel;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.model.Networks;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Calibration on the tiny model of golden set A: what it records, its file, and the quantized function it defines. */
class CalibrationTest {
    static AutoDIRModels models;
    static Calibration calibration;
    static final int STEPS = 3;

    @BeforeAll static void calibrate() {
        models = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()));
        FloatTensor img = TinyModel.image(36, 44, 11);
        calibration = Calibrator.calibrate(models, CLIPTokenizer.loadDefault(),
                List.of(new Calibrator.Input(img, new Calibration.Image("generated", "-", 44, 36))),
                QuantRecipe.defaults(List.of(), List.of()), new Calibration.Settings(STEPS, 42, 0.999, 0.5, 1));
    }

    @AfterAll static void close() { if (models != null) models.close(); }

    @Test void everyNetworkAndEveryTimestepIsRecorded() {
        Map<String, Calibration.Layer> layers = calibration.layers();
        for (String prefix : new String[] {"model.diffusion_model.", "first_stage_model.encoder.", "first_stage_model.decoder.",
                "NAFNet.", "model_assessment.clipmodel.text_model.", "model_assessment.clipmodel.vision_model."}) {
            assertTrue(layers.keySet().stream().anyMatch(k -> k.startsWith(prefix)), "no layer of " + prefix + " in " + layers.keySet());
        }
        for (String k : layers.keySet()) {
            assertTrue(QuantRecipe.defaults(List.of(), List.of()).quantizes(k), k + " is excluded but was recorded");
            Calibration.Layer l = layers.get(k);
            assertTrue(l.amax() > 0 && l.percentileAmax() <= l.amax() + 1e-12, k + ": " + l);
        }
        assertFalse(layers.containsKey("model.diffusion_model.input_blocks.0.0.weight"), "conv_in is excluded");
        // the UNet's first ResBlock convolution sees the latent once per sampler step: steps × its input's size
        Calibration.Layer first = layers.get("model.diffusion_model.input_blocks.1.0.in_layers.2.weight");
        int mc = models.config().unet().modelChannels(), m = models.sizeMultiple(), f = models.config().vae().downsampleFactor();
        long latent = (long) ((36 + m - 1) / m * m / f) * ((44 + m - 1) / m * m / f);   // the image padded to the multiple, ÷ f
        assertEquals(STEPS * mc * latent, first.values(), "one record of the whole [1, " + mc + ", h, w] input per step");
        // SmoothQuant factors on linear layers only
        layers.forEach((k, l) -> assertEquals("linear".equals(l.op()), l.smoothQuant() != null, k));
    }

    @Test void theFileRoundTripsAndNamesWhatItCameFrom(@TempDir Path dir) {
        Path f = dir.resolve("calib.json");
        calibration.write(f);
        Calibration back = Calibration.read(f);
        assertEquals(calibration.hash(), back.hash());
        assertEquals(calibration.weightsHash(), back.weightsHash());
        assertEquals(calibration.settings(), back.settings());
        assertEquals(calibration.layers().keySet(), back.layers().keySet());
        calibration.layers().forEach((k, l) -> {
            assertEquals(l.amax(), back.layers().get(k).amax(), 0, k);
            if (l.smoothQuant() != null) assertArrayEquals(l.smoothQuant(), back.layers().get(k).smoothQuant(), 1e-6, k);
        });
        Calibrator.checkWeights(back, models.store());                                  // same weights: accepted
        AutoDIRModels other = new AutoDIRModels(new dev.autodir.io.RandomWeightStore(models.config(), 5), models.config());
        assertThrows(IllegalArgumentException.class, () -> Calibrator.checkWeights(back, other.store()));
    }

    @Test void int8AndFp8DeviateByQuantizationNoiseOnly() {
        int f = models.config().vae().downsampleFactor();
        var unet = Networks.unet(models, 1, 40 / f / 2 * 2, 48 / f / 2 * 2, 77);
        SplittableRandom r = new SplittableRandom(1);
        Map<String, FloatTensor> in = new java.util.LinkedHashMap<>();
        for (var s : unet.inputs()) {
            FloatTensor t = FloatTensor.zeros(s.shape());
            for (int i = 0; i < t.numel(); i++) t.data()[i] = s.name().equals("timesteps") ? 500.5f : (float) r.nextGaussian();
            in.put(s.name(), t);
        }
        try (CpuOps cpu = new CpuOps()) {
            FloatTensor ref = run(cpu, unet, in);
            for (QuantFormat format : QuantFormat.values()) {
                FloatTensor q = run(new FakeQuantOps(cpu, calibration, format), unet, in);
                double e = q.relL2(ref);
                // Per quantized layer, a uniform quantizer of step Δ = amax/127 adds noise of rms Δ/√12 ≈ 0.0023·amax; with
                // amax ≈ 4 rms for these activations that is ≈ 1% of the layer's output, summing in quadrature over the
                // ~20 quantized layers of this UNet to ≈ 4%. FP8's 3-bit mantissa gives a relative 2^-4/√3 ≈ 3.6% per
                // layer, ≈ 16% overall. Bound: 0.3 for both (a wrong scale or a dropped layer gives O(1) errors);
                // and a result equal to float32 would mean nothing was quantized.
                assertTrue(e > 1e-4, format + ": rel-L2 " + e + " — nothing was quantized?");
                assertTrue(e < 0.3, format + ": rel-L2 " + e + " exceeds the quantization-noise bound");
            }
        }
    }

    private static FloatTensor run(dev.autodir.backend.Ops ops, dev.autodir.backend.Network net, Map<String, FloatTensor> in) {
        Map<String, Tensor> t = new java.util.LinkedHashMap<>();
        in.forEach((k, v) -> t.put(k, ops.upload(v)));
        return ops.download(ops.compile(net).run(t).get("eps"));
    }
}
