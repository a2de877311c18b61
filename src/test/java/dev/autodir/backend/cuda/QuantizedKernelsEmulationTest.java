package dev.autodir.backend.cuda;

import dev.autodir.quant.QuantFormat;
import dev.autodir.quant.WeightQuantizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * quantize.cu on the host (KernelEmulator), without a GPU: the quantized bytes bit for bit against QuantFormat (the
 * reference's own rounding, through WeightQuantizer.Quantized's byte encodings), on random data mixed with the values
 * that decide rounding — ties between two levels (INT8) or two E4M3 values (FP8, normal and subnormal), the largest
 * value and beyond (saturation), ±0, infinities — in float32 and FP16 storage, with and without SmoothQuant factors,
 * in both layouts (rows, and NCHW transposed to [B·P, K] with edges that are not multiples of the 32-wide tile); and
 * the dequantized output against a Java loop of the same float32 operations (rel-L2 ≤ 1e-6: it should be exact).
 */
class QuantizedKernelsEmulationTest extends QuantizedEmulation {
    /** Random values of rms ~ amax/3 with every 5th one a deciding value (ties, saturation, zeros, infinities), in units of scale. */
    static float[] data(long seed, int n, QuantFormat f, float scale, boolean half) {
        Random r = new Random(seed);
        float[] v = new float[n];
        float max = f.maxValue();
        for (int i = 0; i < n; i++) {
            float t;
            if (i % 5 != 4) {
                t = (float) (r.nextGaussian() * max / 3);
            } else {
                int c = r.nextInt(10);
                t = switch (c) {
                    case 0 -> f == QuantFormat.INT8 ? r.nextInt(255) - 127 + 0.5f                                   // a tie
                            : (8 + r.nextInt(8) + 0.5f) * (float) Math.scalb(1.0, r.nextInt(14) - 9);                 // a normal tie
                    case 1 -> f == QuantFormat.INT8 ? -128.5f : (r.nextInt(8) + 0.5f) * 0x1p-9f;                      // below / subnormal tie
                    case 2 -> max * (1 + r.nextFloat());                                                              // saturates
                    case 3 -> -max * (1 + r.nextFloat());
                    case 4 -> f == QuantFormat.INT8 ? 127.5f : 464f;                                                  // the tie above the max
                    case 5 -> r.nextBoolean() ? 0f : -0f;
                    case 6 -> r.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
                    case 7 -> f == QuantFormat.INT8 ? -127.5f : 0x1p-10f;                                             // tie at the smallest step
                    default -> (float) (r.nextGaussian() * 1e-3);                                                    // tiny
                };
            }
            v[i] = t * scale;
            if (half) v[i] = CudaTestSupport.roundToHalf(v[i]);
        }
        return v;
    }

    /** The bytes QuantFormat gives: quantize (after the SmoothQuant division, as FakeQuantOps does) and encode. */
    static byte[] expected(float[] x, double[] smooth, int k, float scale, QuantFormat f) {
        float[] q = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            float v = smooth == null ? x[i] : (float) (x[i] / smooth[i % k]);
            q[i] = f.quantize(v, scale);
        }
        WeightQuantizer.Quantized w = new WeightQuantizer.Quantized(f, q, new float[] {1f}, new int[] {1, x.length});
        return f == QuantFormat.INT8 ? w.int8() : w.fp8();
    }

    static void assertBytes(String what, byte[] want, byte[] got) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            if (want[i] != got[i]) {
                throw new AssertionError(String.format("%s: byte %d is 0x%02x, QuantFormat gives 0x%02x", what, i, got[i] & 0xFF, want[i] & 0xFF));
            }
        }
    }

    // scale 0.0625 (a power of two): the ties stay exact ties after x / scale; 0.0123: near-ties, rounded the same way
    @ParameterizedTest(name = "{0} half={1} smooth={2} rows={3} k={4} scale={5}")
    @CsvSource({
            "INT8, false, false, 37, 24, 0.0625",
            "INT8, true, true, 19, 40, 0.0123",
            "INT8, true, false, 11, 8, 0.0625",
            "FP8_E4M3, false, true, 23, 32, 0.0123",
            "FP8_E4M3, true, false, 41, 16, 0.0625",
            "FP8_E4M3, false, false, 29, 48, 0.0625",
    })
    void rowsQuantizeBitExactly(QuantFormat f, boolean half, boolean withSmooth, int rows, int k, float scale) {
        float[] x = data(rows * 31L + k, rows * k, f, scale, half);
        double[] s = withSmooth ? smooth(k, k) : null;
        if (s != null) for (int i = 0; i < x.length; i++) if (i % 7 == 3) {
            x[i] = (float) (x[i] * s[i % k]);              // some land back on a tie or the grid after x / s
            if (half) x[i] = CudaTestSupport.roundToHalf(x[i]);
        }
        KernelEmulator.Buf in = KernelEmulator.Buf.of(x, half), q = KernelEmulator.Buf.zeros(x.length);
        run(KernelLaunch.of(Kernel.QUANTIZE_ROWS, 3, CudaOps.THREADS, in, half ? 1 : 0, s == null ? null : doubles(s), q, (long) rows, k, scale,
                f == QuantFormat.FP8_E4M3 ? 1 : 0));
        assertBytes(f + " rows", expected(x, s, k, scale, f), q.bytes);
    }

    @ParameterizedTest(name = "{0} half={1} B={2} K={3} P={4}")
    @CsvSource({
            "INT8, true, 2, 40, 45",
            "FP8_E4M3, false, 1, 33, 70",
            "FP8_E4M3, true, 3, 16, 9",
    })
    void nchwQuantizesBitExactlyAndTransposes(QuantFormat f, boolean half, int b, int k, int p) {
        float scale = 0.125f;
        float[] x = data(b * 1000L + k * 10L + p, b * k * p, f, scale, half);
        // the reference on the transposed [B·P, K] values: q[(bi·P + pi)·K + ki] = Q(x[(bi·K + ki)·P + pi])
        float[] t = new float[x.length];
        for (int bi = 0; bi < b; bi++) for (int ki = 0; ki < k; ki++) for (int pi = 0; pi < p; pi++) {
            t[(bi * p + pi) * k + ki] = x[(bi * k + ki) * p + pi];
        }
        KernelEmulator.Buf in = KernelEmulator.Buf.of(x, half), q = KernelEmulator.Buf.zeros(x.length);
        run(new KernelLaunch(Kernel.QUANTIZE_NCHW, (p + 31) / 32, (k + 31) / 32, b, 32, 8, 1, 0,
                java.util.Arrays.asList(in, half ? 1 : 0, null, q, k, (long) p, scale, f == QuantFormat.FP8_E4M3 ? 1 : 0)));
        assertBytes(f + " nchw", expected(t, null, k, scale, f), q.bytes);
    }

    @Test
    void notANumberIsZeroInInt8AndNaNInFp8() {
        float[] x = {Float.NaN, 1f, -Float.NaN, 0f};
        for (QuantFormat f : QuantFormat.values()) {
            KernelEmulator.Buf q = KernelEmulator.Buf.zeros(4);
            run(KernelLaunch.of(Kernel.QUANTIZE_ROWS, 1, CudaOps.THREADS, KernelEmulator.Buf.floats(x), 0, null, q, 1L, 4, 0.5f,
                    f == QuantFormat.FP8_E4M3 ? 1 : 0));
            if (f == QuantFormat.INT8) {
                assertEquals(0, q.bytes[0], "int8 NaN → 0 (QuantFormat.quantize)");
                assertEquals(2, q.bytes[1]);
            } else {
                assertTrue(Float.isNaN(QuantFormat.decodeE4M3(q.bytes[0])), "fp8 NaN → an E4M3FN NaN, got 0x" + Integer.toHexString(q.bytes[0] & 0xFF));
                assertEquals(2f, QuantFormat.decodeE4M3(q.bytes[1]));
            }
        }
    }

    /** What dequantize_*.cu computes, as float32 Java operations in the kernel's order: acc · (xScale · wScale[n]) + bias[n]. */
    static float dequant(float acc, float xScale, float ws, float bias, boolean hasBias) {
        float y = acc * (xScale * ws);
        return hasBias ? y + bias : y;
    }

    @ParameterizedTest(name = "fp8 acc={0} nchw={1} half={2} bias={3}")
    @CsvSource({
            "false, false, false, true",
            "true, false, true, false",
            "false, true, true, true",
            "true, true, false, true",
    })
    void dequantizeMatchesTheJavaLoop(boolean fp8, boolean nchw, boolean half, boolean withBias) {
        int b = 2, n = 40, p = nchw ? 37 : 1;
        long rows = (long) b * p;
        Random r = new Random(7);
        ByteBuffer accBytes = ByteBuffer.allocate((int) (4 * rows * n)).order(ByteOrder.LITTLE_ENDIAN);
        float[] acc = new float[(int) (rows * n)];
        for (int i = 0; i < acc.length; i++) {
            if (fp8) {
                acc[i] = (float) (r.nextGaussian() * 3000);
                accBytes.putFloat(acc[i]);
            } else {
                int a = r.nextInt(2_000_001) - 1_000_000;
                if (i % 11 == 0) a = r.nextInt();          // beyond 2^24: the int → float conversion rounds
                acc[i] = (float) a;
                accBytes.putInt(a);
            }
        }
        float[] ws = new float[n], bias = new float[n];
        for (int i = 0; i < n; i++) {
            ws[i] = (float) (1e-4 * (1 + r.nextDouble()));   // |y| < 2^31 · 0.0173 · 2e-4 ≈ 7400: finite in FP16
            bias[i] = CudaTestSupport.roundToHalf((float) r.nextGaussian());
        }
        float xScale = 0.0173f;
        KernelEmulator.Buf accBuf = new KernelEmulator.Buf(accBytes.array()), y = KernelEmulator.Buf.zeros(rows * n * (half ? 2 : 4));
        KernelEmulator.Buf bb = withBias ? KernelEmulator.Buf.halves(bias) : null;
        if (nchw) {
            run(new KernelLaunch(Kernel.DEQUANTIZE_NCHW, (p + 31) / 32, (n + 31) / 32, b, 32, 8, 1, 0,
                    java.util.Arrays.asList(accBuf, fp8 ? 1 : 0, KernelEmulator.Buf.floats(ws), bb, 1, y, half ? 1 : 0, n, (long) p, xScale)));
        } else {
            run(KernelLaunch.of(Kernel.DEQUANTIZE_ROWS, 2, CudaOps.THREADS, accBuf, fp8 ? 1 : 0, KernelEmulator.Buf.floats(ws), bb, 1, y,
                    half ? 1 : 0, rows, n, xScale));
        }
        float[] want = new float[acc.length];
        for (int bi = 0; bi < b; bi++) for (int pi = 0; pi < p; pi++) for (int ni = 0; ni < n; ni++) {
            float v = dequant(acc[(bi * p + pi) * n + ni], xScale, ws[ni], bias[ni], withBias);
            want[nchw ? (bi * n + ni) * p + pi : (bi * p + pi) * n + ni] = half ? CudaTestSupport.roundToHalf(v) : v;
        }
        // the same float32 operations, each rounded once (no FMA on either side): equal up to nothing; 1e-6 leaves room for none
        CudaTestSupport.assertClose("dequantize " + (nchw ? "nchw" : "rows"), new dev.autodir.tensor.FloatTensor(y.as(half), acc.length),
                new dev.autodir.tensor.FloatTensor(want, acc.length), 1e-6);
    }
}
