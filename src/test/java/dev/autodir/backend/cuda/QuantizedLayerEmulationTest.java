package dev.autodir.backend.cuda;

import dev.autodir.backend.OpsConformanceTest.MemoryStore;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.FakeQuantOps;
import dev.autodir.quant.QuantFormat;
import dev.autodir.quant.WeightQuantizer;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One quantized layer as the cuda backend runs it, without a GPU: the very launches and product that
 * {@link CudaQuantizedOps#layerSteps} issues (quantize.cu through KernelEmulator; the cuBLASLt call through an exact
 * emulation of {@link QuantGemm}'s documented TN semantics — column-major, A transposed, leading dimensions — int64
 * sums for INT8, E4M3 values summed in float64 for FP8), against {@link FakeQuantOps} on the cpu backend with the same
 * calibration: the quantized function the engine must compute. A wrong layout, transpose, leading dimension, scale or
 * SmoothQuant direction gives O(1) errors; what remains is summation rounding, bounded next to the assertion.
 * What this cannot check: cuBLASLt itself, the device's kernels' speed (CudaQuantizedOpsTest on a GPU).
 */
class QuantizedLayerEmulationTest extends QuantizedEmulation {
    /** Runs the steps on emulator buffers: kernels through KernelEmulator, products by their documented semantics. */
    static final class Emulated implements CudaQuantizedOps.Steps {
        final List<QuantGemm> gemms = new ArrayList<>();
        final List<Kernel> kernels = new ArrayList<>();

        @Override public void launch(KernelLaunch l) {
            kernels.add(l.kernel());
            run(l);
        }

        /** D [m, n] (ld ldd) = Aᵀ · B: A stored [k, m] (ld lda), B stored [k, n] (ld ldb), column-major, element counts. */
        @Override public void gemm(QuantGemm g, Object a, Object b, Object d) {
            gemms.add(g);
            byte[] A = ((KernelEmulator.Buf) a).bytes, B = ((KernelEmulator.Buf) b).bytes;
            ByteBuffer D = ByteBuffer.wrap(((KernelEmulator.Buf) d).bytes).order(ByteOrder.LITTLE_ENDIAN);
            boolean int8 = g.format() == QuantFormat.INT8;
            for (int j = 0; j < g.n(); j++) {
                for (int r = 0; r < g.m(); r++) {
                    long isum = 0;
                    double fsum = 0;
                    for (int p = 0; p < g.k(); p++) {
                        byte av = A[Math.toIntExact(p + r * g.lda())], bv = B[Math.toIntExact(p + j * g.ldb())];
                        if (int8) isum += (long) av * bv;
                        else fsum += (double) QuantFormat.decodeE4M3(av) * QuantFormat.decodeE4M3(bv);
                    }
                    int at = Math.toIntExact(4 * (r + j * g.ldd()));
                    if (int8) D.putInt(at, Math.toIntExact(isum));   // int32 accumulators: exact, and must fit
                    else D.putFloat(at, (float) fsum);
                }
            }
        }
    }

    static Calibration calibration(String key, String op, double amax, double[] smooth) {
        return new Calibration("test", new Calibration.Settings(1, 0, 1.0, smooth == null ? 0 : 0.5, 1), List.of(), List.of(),
                Map.of(key, new Calibration.Layer(op, amax, amax, 1000, smooth)));
    }

    @ParameterizedTest(name = "{0} conv={1} half={2} smooth={3} in={4} out={5}")
    @CsvSource({
            "INT8, false, false, true, 48, 32",
            "INT8, false, true, false, 64, 16",
            "FP8_E4M3, false, false, true, 48, 32",
            "FP8_E4M3, false, true, false, 32, 48",
            "INT8, true, false, false, 40, 24",
            "INT8, true, true, false, 48, 32",
            "FP8_E4M3, true, false, false, 32, 48",
            "FP8_E4M3, true, true, false, 48, 16",
    })
    void theEmulatedLayerComputesFakeQuantOpsFunction(QuantFormat f, boolean conv, boolean half, boolean withSmooth, int in, int out) {
        String key = "layer.weight";
        int batch = 2, h = 5, w = 7, tokens = 13;
        FloatTensor weight = random(in * 7L + out, conv ? new int[] {out, in, 1, 1} : new int[] {out, in});
        FloatTensor bias = CudaTestSupport.representable(random(3, out), Precision.FP16);   // the device holds FP16 biases
        FloatTensor x = CudaTestSupport.representable(random(11, conv ? new int[] {batch, in, h, w} : new int[] {batch, tokens, in}),
                half ? Precision.FP16 : Precision.FP32);
        double[] smooth = withSmooth ? smooth(5, in) : null;
        Calibration cal = calibration(key, conv ? "conv2d" : "linear", 2.5, smooth);   // |x| ~ N(0, 1): some saturate

        FloatTensor ref;
        try (CpuOps cpu = new CpuOps(1, false)) {
            MemoryStore store = new MemoryStore().put(key, weight).put("layer.bias", bias);
            FakeQuantOps fq = new FakeQuantOps(cpu, cal, f);
            Tensor wt = fq.weight(store, key), bt = fq.weight(store, "layer.bias");
            ref = fq.download(conv ? fq.conv2d(fq.upload(x), wt, bt, 1, 0, 1) : fq.linear(fq.upload(x), wt, bt));
        }

        // what CudaQuantizedOps.prepare uploads, then the layer's steps
        WeightQuantizer.Quantized qw = WeightQuantizer.quantize(weight, smooth, f);
        long plane = conv ? (long) h * w : 1, rows = conv ? batch * plane : (long) batch * tokens;
        KernelEmulator.Buf xb = KernelEmulator.Buf.of(x.data(), half), q = KernelEmulator.Buf.zeros(rows * in);
        KernelEmulator.Buf wb = new KernelEmulator.Buf(f == QuantFormat.INT8 ? qw.int8() : qw.fp8());
        KernelEmulator.Buf acc = KernelEmulator.Buf.zeros(rows * out * 4), y = KernelEmulator.Buf.zeros(rows * out * 4);
        Emulated e = new Emulated();
        CudaQuantizedOps.layerSteps(e, f, xb, half ? Precision.FP16 : Precision.FP32, smooth == null ? null : doubles(smooth),
                q, wb, KernelEmulator.Buf.floats(qw.scales()), acc, KernelEmulator.Buf.halves(bias.data()), Precision.FP16, y, Precision.FP32,
                conv ? batch : 1, rows, plane, in, out, f.scaleFor(cal.range(key)), 3);
        assertEquals(1, e.gemms.size(), "one product");
        QuantGemm g = e.gemms.get(0);
        assertEquals(List.of(out, (int) rows, in), List.of(g.m(), g.n(), g.k()), "TN product: m = out features, n = rows, k = in features");
        assertEquals(conv ? List.of(Kernel.QUANTIZE_NCHW, Kernel.DEQUANTIZE_NCHW) : List.of(Kernel.QUANTIZE_ROWS, Kernel.DEQUANTIZE_ROWS), e.kernels);
        FloatTensor got = new FloatTensor(y.asFloats(), ref.shape());

        // Both sides compute y* = s_x·s_w[n]·Σ_k qx·qw + b[n] from the same quantized values (the bytes are QuantFormat's,
        // QuantizedKernelsEmulationTest). The reference sums fl(qx·s_x)·fl(qw·s_w) in float32 in some order: per element
        // |ref − y*| ≤ γ_{K+3}·T with T = Σ_k |qx·s_x·qw·s_w| + |b| (Higham's bound, any order, the two fake-quantized factors
        // rounded once each); this side has the exact integer sum (FP8: float64, then one rounding) and three roundings
        // in the dequantization: ≤ γ_4·T. So ‖got − ref‖ ≤ γ_{K+7}·‖T‖, the bound asserted, relative to ‖ref‖.
        double bound = gamma(in + 7) * norm(magnitudes(x, qw, f, cal.range(key), smooth, bias, conv, batch, in, out, plane)) / norm(ref.data());
        double rel = got.relL2(ref);
        assertTrue(rel <= bound, f + ": rel-L2 " + rel + " above the summation bound " + bound);
        assertTrue(bound < 1e-4, "the bound itself stays a float32 bound: " + bound);
        // and it is the quantized function, not the float one: quantization moves the output by percents (0.04-0.16 here)
        double fromFloat = got.relL2(plain(x, weight, bias, conv));
        assertTrue(fromFloat > 100 * bound, "rel-L2 from the unquantized layer only " + fromFloat + ": nothing was quantized?");
    }

    static double gamma(int n) {
        double u = 0x1p-24;
        return n * u / (1 - n * u);
    }

    static double norm(float[] v) {
        double s = 0;
        for (float f : v) s += (double) f * f;
        return Math.sqrt(s);
    }

    /** T per output element: Σ_k |fakequant(x)·dequantized w| + |b|, in the output's layout. */
    static float[] magnitudes(FloatTensor x, WeightQuantizer.Quantized qw, QuantFormat f, double range, double[] smooth, FloatTensor bias,
                              boolean conv, int batch, int in, int out, long plane) {
        float scale = f.scaleFor(range);
        float[] wd = qw.dequantize().data(), xd = x.data();
        int rows = conv ? (int) (batch * plane) : xd.length / in;
        float[] t = new float[rows * out];
        for (int r = 0; r < rows; r++) {
            int b = (int) (r / plane), p = (int) (r % plane);
            for (int n = 0; n < out; n++) {
                double s = Math.abs(bias.data()[n]);
                for (int k = 0; k < in; k++) {
                    float v = conv ? xd[(int) ((b * (long) in + k) * plane + p)] : xd[r * in + k];
                    if (smooth != null) v = (float) (v / smooth[k]);
                    s += Math.abs(f.fakeQuantize(v, scale) * (double) wd[n * in + k]);
                }
                t[conv ? (int) ((b * (long) out + n) * plane + p) : r * out + n] = (float) s;
            }
        }
        return t;
    }

    static FloatTensor plain(FloatTensor x, FloatTensor w, FloatTensor b, boolean conv) {
        try (CpuOps cpu = new CpuOps(1, false)) {
            return cpu.download(conv ? cpu.conv2d(x, w, b, 1, 0, 1) : cpu.linear(x, w, b));
        }
    }
}
