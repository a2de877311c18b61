package dev.autodir.backend.cuda;

import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.OpsConformanceTest.MemoryStore;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.engine.TinyModel;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.model.Networks;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.Calibrator;
import dev.autodir.quant.FakeQuantOps;
import dev.autodir.quant.QuantFormat;
import dev.autodir.quant.QuantRecipe;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code cuda:int8} / {@code cuda:fp8} on a GPU (skipped without one, like the other cuda tests; written without a GPU
 * and NOT RUN YET): single layers and the tiny model's UNet against {@link FakeQuantOps} on the cpu backend, restricted
 * to the layers this path quantizes (linear layers and 1×1 convolutions; the 3×3 convolutions stay unquantized on both
 * sides). {@code benchmarks/gpu-check.sh} runs this class with the others of the package, and CudaQuantCheck.
 */
class CudaQuantizedOpsTest {
    @BeforeAll
    static void gpu() { CudaTestSupport.assumeGpu(); }

    private static void assumeFormat(QuantFormat f) {
        if (f != QuantFormat.FP8_E4M3) return;
        try (CudaOps probe = new CudaOps(Precision.FP16)) {
            assumeTrue(probe.device().ccMajor * 10 + probe.device().ccMinor >= 89, "FP8 needs compute capability 8.9: " + probe.device().describe());
        }
    }

    static Calibration one(String key, String op, double amax, double[] smooth) {
        return new Calibration("test", new Calibration.Settings(1, 0, 1.0, smooth == null ? 0 : 0.5, 1), List.of(), List.of(),
                Map.of(key, new Calibration.Layer(op, amax, amax, 1000, smooth)));
    }

    /** The layer through {@code ops} on x uploaded as float32 (so both sides quantize the very same values). */
    static FloatTensor layer(Ops ops, MemoryStore store, FloatTensor x, boolean conv) {
        Tensor w = ops.weight(store, "l.weight"), b = ops.weight(store, "l.bias");
        Tensor xt = ops.uploadFloat32(x);
        return ops.download(conv ? ops.conv2d(xt, w, b, 1, 0, 1) : ops.linear(xt, w, b));
    }

    @ParameterizedTest
    @EnumSource(QuantFormat.class)
    void linearAndPointwiseLayersMatchFakeQuantOps(QuantFormat f) {
        assumeFormat(f);
        for (boolean conv : new boolean[] {false, true}) {
            int in = 64, out = 48;
            FloatTensor w = random(1, conv ? new int[] {out, in, 1, 1} : new int[] {out, in});
            FloatTensor b = CudaTestSupport.representable(random(2, out), Precision.FP16);
            FloatTensor x = CudaTestSupport.representable(random(3, conv ? new int[] {2, in, 9, 11} : new int[] {2, 77, in}), Precision.FP16);
            double[] smooth = conv ? null : QuantizedEmulation.smooth(4, in);
            Calibration cal = one("l.weight", conv ? "conv2d" : "linear", 2.5, smooth);
            MemoryStore store = new MemoryStore().put("l.weight", w).put("l.bias", b);
            FloatTensor ref, plain;
            try (CpuOps cpu = new CpuOps()) {
                ref = layer(new FakeQuantOps(cpu, cal, f), store, x, conv);
                plain = layer(cpu, store, x, conv);
            }
            try (CudaQuantizedOps q = CudaQuantizedOps.open(cal, f, System.err)) {
                FloatTensor got = layer(q, store, x, conv);
                // same quantized bytes on both sides (QuantizedKernelsEmulationTest); float32 (INT8: exact) sums, FP16 output:
                // the FP16 rounding of the result (2^-11 relative) dominates, the FP16 tolerance 2e-3 covers it
                assertClose(f + (conv ? " 1x1 conv" : " linear") + " vs FakeQuantOps", got, ref, 2e-3);
                assertTrue(got.relL2(plain) > 1e-2, "no quantization visible: " + got.relL2(plain));
                assertTrue(q.describe().contains("1 layers quantized"), q.describe());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(QuantFormat.class)
    void layersThePathCannotTakeStayFp16WithANotice(QuantFormat f) {
        assumeFormat(f);
        FloatTensor w = random(1, 32, 30), b = random(2, 32), x = CudaTestSupport.representable(random(3, 4, 30), Precision.FP16);
        MemoryStore store = new MemoryStore().put("l.weight", w).put("l.bias", b);
        ByteArrayOutputStream notes = new ByteArrayOutputStream();
        FloatTensor plain;
        try (CpuOps cpu = new CpuOps()) {
            plain = layer(cpu, store, x, false);
        }
        try (CudaQuantizedOps q = CudaQuantizedOps.open(one("l.weight", "linear", 2.5, null), f, new PrintStream(notes, true, StandardCharsets.UTF_8))) {
            assertClose("30 input features: FP16", layer(q, store, x, false), plain, 2e-3);
            String text = notes.toString(StandardCharsets.UTF_8);
            assertTrue(text.contains("l.weight stays FP16") && text.contains("cuBLASLt"), text);
        }
    }

    /**
     * The tiny model's UNet: cuda:int8/fp8 against FakeQuantOps of a calibration restricted to the linear layers and
     * 1×1 convolutions. Flipped rounding decisions (FP16 activations against float32 ones) make the two differ by more than
     * cuda:fp16 differs from float32, but far less than quantization itself moves the output: the bound is half of the
     * reference's own distance from float32, and 5% absolutely.
     */
    @ParameterizedTest
    @EnumSource(QuantFormat.class)
    void theUNetMatchesFakeQuantOpsOnTheSameLayers(QuantFormat f) {
        assumeFormat(f);
        try (AutoDIRModels models = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()))) {
            Calibration full = Calibrator.calibrate(models, CLIPTokenizer.loadDefault(),
                    List.of(new Calibrator.Input(TinyModel.image(36, 44, 11), new Calibration.Image("generated", "-", 44, 36))),
                    QuantRecipe.defaults(List.of(), List.of()), new Calibration.Settings(1, 42, 1.0, 0.5, 1));
            Map<String, Calibration.Layer> matrix = new LinkedHashMap<>();
            full.layers().forEach((k, l) -> {
                int[] s = models.store().info(k).shape();
                if (s.length == 2 || (s.length == 4 && s[2] == 1 && s[3] == 1)) matrix.put(k, l);
            });
            Calibration cal = new Calibration(full.weightsHash(), full.settings(), full.images(), full.exclusions(), matrix);
            int fct = models.config().vae().downsampleFactor();
            Network unet = Networks.unet(models, 1, 40 / fct / 2 * 2, 48 / fct / 2 * 2, 77);
            Map<String, FloatTensor> in = new LinkedHashMap<>();
            SplittableRandom r = new SplittableRandom(1);
            for (var s : unet.inputs()) {
                FloatTensor t = FloatTensor.zeros(s.shape());
                for (int i = 0; i < t.numel(); i++) t.data()[i] = s.name().equals("timesteps") ? 500.5f : (float) r.nextGaussian();
                in.put(s.name(), t);
            }
            FloatTensor fp32, ref, got;
            try (CpuOps cpu = new CpuOps()) {
                fp32 = run(cpu, unet, in);
                ref = run(new FakeQuantOps(cpu, cal, f), unet, in);
            }
            try (CudaQuantizedOps q = CudaQuantizedOps.open(cal, f, System.err)) {
                got = run(q, unet, in);
                System.out.println("QUANT unet " + f + ": rel-L2 vs FakeQuantOps " + got.relL2(ref) + ", FakeQuantOps vs fp32 " + ref.relL2(fp32)
                        + "; " + q.describe());
            }
            double quantization = ref.relL2(fp32), e = got.relL2(ref);
            assertTrue(quantization > 1e-4, "the restricted calibration quantizes nothing: " + quantization);
            assertTrue(e < 0.5 * quantization && e < 0.05, f + ": rel-L2 " + e + " from FakeQuantOps (quantization moved fp32 by " + quantization + ")");
        }
    }

    private static FloatTensor run(Ops ops, Network net, Map<String, FloatTensor> in) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        in.forEach((k, v) -> t.put(k, ops.upload(v)));
        return ops.download(ops.compile(net).run(t).get("eps"));
    }
}
