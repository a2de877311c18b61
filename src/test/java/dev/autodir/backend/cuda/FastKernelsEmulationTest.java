package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.randomScaled;
import static dev.autodir.backend.cuda.CudaTestSupport.representable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The fastKernels variants of the memory-bound kernels ({@code *_fast_{f16,f32}_v{V}}) run on the host through
 * {@link KernelEmulator}, with the launch geometry CudaOps computes for a 132-SM GPU (its static launch helpers), on
 * shapes that reach the vector and scalar variants, row / pixel / chunk tails, every LayerNorm block width, split
 * pooling with its finishing kernel, the in-place per-channel add (a 1x1 convolution's bias) and rows beyond
 * gridDim.y's 65535. References are float64 loops; relative L2 1e-5 in float32, 2e-3 with FP16 storage (inputs are
 * FP16 values, so the reference reads what the kernel reads). Skipped, with the reason, where no g++ is installed.
 */
class FastKernelsEmulationTest {
    private static final int SMS = 132;

    /** Every kernel this class launches, compiled two at a time before the first test. */
    @BeforeAll
    static void compile() {
        if (KernelEmulator.unavailableReason() != null) return;
        java.util.List<Kernel> ks = new java.util.ArrayList<>(java.util.List.of(Kernel.GLOBAL_AVG_POOL_FINISH));
        for (String f : new String[] {"layer_norm_channels", "global_avg_pool", "per_channel", "binary", "simple_gate"}) ks.add(Kernel.fast(f, Precision.FP16, true));
        KernelEmulator.prepare(ks.toArray(Kernel[]::new));
    }

    @BeforeEach
    void needsCompiler() {
        String reason = KernelEmulator.unavailableReason();
        assumeTrue(reason == null, () -> "no kernel emulation: " + reason);
    }

    private static Precision prec(boolean half) { return half ? Precision.FP16 : Precision.FP32; }

    private static double tol(boolean half) { return half ? 2e-3 : 1e-5; }

    /** The 16-byte vector width when the row length allows it (CudaOps also needs aligned addresses; the buffers are). */
    private static int width(boolean half, long rowLength) {
        int v = Kernel.fastVectorWidth(prec(half));
        return rowLength % v == 0 ? v : 1;
    }

    private static FloatTensor rnd(long seed, double scale, double shift, boolean half, int... shape) {
        return representable(randomScaled(seed, scale, shift, shape), prec(half));
    }

    @ParameterizedTest(name = "[{0},{1},{2},{3}] shift {4} half {5}")
    @CsvSource({
            "2, 64, 16, 24, 0, true", "2, 64, 16, 24, 20, false", "1, 130, 8, 12, 0, false", "2, 6, 5, 7, 0, true",
            "1, 1024, 4, 8, 0, true", "3, 3, 1, 1, 0, false", "1, 16, 3, 4, 20, true", "2, 8, 96, 96, 0, true",
            "1, 16, 64, 64, 20, false",
            "2, 4, 192, 192, 0, true",    // block width 32 on 132 SMs (the others above take 4 and 8)
            "4, 4, 128, 128, 0, true"     // block width 16
    })
    void layerNormChannels(int b, int c, int h, int w, double shift, boolean half) {
        int p = h * w;
        FloatTensor x = rnd(c * 31 + h, 1.5, shift, half, b, c, p), g = rnd(c + 5, 0.5, 1, half, c), be = rnd(c + 6, 1, 0, half, c);
        int v = width(half, p);
        long[] l = CudaOps.layerNormChannelsFastLaunch(b, p, v, SMS);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros((long) x.numel() * prec(half).bytes());
        KernelEmulator.launch(Kernel.fast("layer_norm_channels", prec(half), v > 1), l[0], l[1], 1, (int) l[2], (int) l[3], 1, 0,
                KernelEmulator.Buf.of(x.data(), half), KernelEmulator.Buf.of(g.data(), half), KernelEmulator.Buf.of(be.data(), half), y,
                b, c, p, 1e-6f);
        float[] ref = new float[x.numel()];
        for (int bi = 0; bi < b; bi++) {
            for (int pi = 0; pi < p; pi++) {
                double m = 0, q = 0;
                for (int ci = 0; ci < c; ci++) m += x.data()[(bi * c + ci) * p + pi];
                m /= c;
                for (int ci = 0; ci < c; ci++) q += Math.pow(x.data()[(bi * c + ci) * p + pi] - m, 2);
                double r = 1 / Math.sqrt(q / c + 1e-6);
                for (int ci = 0; ci < c; ci++) {
                    int i = (bi * c + ci) * p + pi;
                    ref[i] = (float) ((x.data()[i] - m) * r * g.data()[ci] + be.data()[ci]);
                }
            }
        }
        assertClose("layer_norm_channels fast, block " + l[2] + "x" + l[3] + ", v" + v, new FloatTensor(y.as(half), b, c, p),
                new FloatTensor(ref, b, c, p), tol(half));
    }

    @ParameterizedTest(name = "[{0},{1},{2},{3}] shift {4} half {5}")
    @CsvSource({
            "1, 64, 64, 64, 0, true", "1, 4, 150, 151, 10, false", "2, 256, 16, 16, 0, false", "2, 3, 5, 7, 10, true",
            "1, 8, 60, 60, 0, true"
    })
    void globalAvgPool(int b, int c, int h, int w, double shift, boolean half) {
        int p = h * w, rows = b * c;
        FloatTensor x = rnd(c * 17 + w, 1, shift, half, rows, p);
        int v = width(half, p);
        long[] split = CudaOps.globalAvgPoolFastSplit(rows, p, v, SMS);
        long splits = split[0], chunk = split[1];
        KernelEmulator.Buf xb = KernelEmulator.Buf.of(x.data(), half), y = KernelEmulator.Buf.zeros((long) rows * prec(half).bytes());
        KernelEmulator.Buf partial = splits > 1 ? KernelEmulator.Buf.zeros(4L * rows * splits) : null;
        KernelEmulator.launch(Kernel.fast("global_avg_pool", prec(half), v > 1), splits, Math.min(rows, 65535), 1, 256, 1, 1, 0,
                xb, partial, y, rows, p, (int) chunk);
        if (partial != null) {
            KernelEmulator.launch(Kernel.GLOBAL_AVG_POOL_FINISH, (rows + 7) / 8, 1, 1, 256, 1, 1, 0, partial, y, half ? 1 : 0,
                    rows, (int) splits, p);
        }
        float[] ref = new float[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int i = 0; i < p; i++) s += x.data()[r * p + i];
            ref[r] = (float) (s / p);
        }
        assertClose("global_avg_pool fast, " + splits + " splits, v" + v, new FloatTensor(y.as(half), rows),
                new FloatTensor(ref, rows), tol(half));
    }

    @ParameterizedTest(name = "[{0},{1},{2},{3}] perSample {4} op {5} inPlace {6} half {7}")
    @CsvSource({
            "2, 64, 24, 40, true, 1, false, true", "2, 64, 24, 40, false, 0, true, false", "1, 1024, 4, 8, false, 1, false, true",
            "2, 3, 5, 7, true, 0, false, false", "3, 5, 1, 12, false, 0, true, true", "2, 3, 5, 7, false, 1, false, true"
    })
    void perChannel(int b, int c, int h, int w, boolean perSample, int op, boolean inPlace, boolean half) {
        int p = h * w, rows = b * c, nv = perSample ? rows : c;
        FloatTensor x = rnd(c * 13 + h, 1, 0, half, rows, p), vv = rnd(c + 1, 0.7, 0.5, half, nv);
        int v = width(half, p);
        long[] l = CudaOps.fastRowsLaunch(rows, p, v);
        KernelEmulator.Buf xb = KernelEmulator.Buf.of(x.data(), half);
        KernelEmulator.Buf y = inPlace ? xb : KernelEmulator.Buf.zeros((long) x.numel() * prec(half).bytes());
        KernelEmulator.launch(Kernel.fast("per_channel", prec(half), v > 1), l[0], l[1], 1, (int) l[2], 1, 1, 0,
                xb, KernelEmulator.Buf.of(vv.data(), half), y, rows, p, nv, op);
        float[] ref = new float[x.numel()];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < p; i++) {
                double a = x.data()[r * p + i], s = vv.data()[r % nv];
                ref[r * p + i] = (float) (op == 0 ? a + s : a * s);
            }
        }
        assertClose("per_channel fast, v" + v, new FloatTensor(y.as(half), rows, p), new FloatTensor(ref, rows, p), tol(half));
    }

    @ParameterizedTest(name = "[{0},{1},{2},{3}] bias {4} half {5}")
    @CsvSource({"2, 64, 24, 40, true, true", "2, 6, 5, 7, true, false", "1, 3, 16, 16, false, true", "3, 5, 1, 12, true, false"})
    void perChannelResidual(int b, int c, int h, int w, boolean withBias, boolean half) {
        int p = h * w, rows = b * c;
        FloatTensor a = rnd(c * 19L + h, 1, 0, half, rows, p), x = rnd(c * 23L + w, 1, 0, half, rows, p);
        FloatTensor bias = rnd(c + 2, 0.5, 0, half, c), sc = rnd(c + 3, 0.7, 0.2, half, c);
        int v = width(half, p);
        long[] l = CudaOps.fastRowsLaunch(rows, p, v);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros((long) x.numel() * prec(half).bytes());
        KernelEmulator.launch(Kernel.fast("per_channel_residual", prec(half), v > 1), l[0], l[1], 1, (int) l[2], 1, 1, 0,
                KernelEmulator.Buf.of(a.data(), half), KernelEmulator.Buf.of(x.data(), half),
                withBias ? KernelEmulator.Buf.of(bias.data(), half) : null, KernelEmulator.Buf.of(sc.data(), half), y,
                rows, p, c, withBias ? 1 : 0);
        float[] ref = new float[x.numel()];
        for (int r = 0; r < rows; r++) {
            double bb = withBias ? bias.data()[r % c] : 0, s = sc.data()[r % c];
            for (int i = 0; i < p; i++) ref[r * p + i] = (float) (a.data()[r * p + i] + (x.data()[r * p + i] + bb) * s);
        }
        assertClose("per_channel_residual fast, v" + v, new FloatTensor(y.as(half), rows, p), new FloatTensor(ref, rows, p), tol(half));
    }

    @ParameterizedTest(name = "[{0},{1},{2},{3}] half {4}")
    @CsvSource({"2, 128, 24, 40, true", "2, 6, 5, 7, false", "3, 4, 2, 2, true", "1, 2, 3, 3, false"})
    void simpleGateBias(int b, int c2, int h, int w, boolean half) {
        int c = c2 / 2, p = h * w, rows = b * c;
        FloatTensor x = rnd(c2 * 5L + w, 1, 0, half, b, c2, p), bias = rnd(c2 + 7L, 0.5, 0, half, c2);
        int v = width(half, p);
        long[] l = CudaOps.fastRowsLaunch(rows, p, v);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros((long) rows * p * prec(half).bytes());
        KernelEmulator.launch(Kernel.fast("simple_gate_bias", prec(half), v > 1), l[0], l[1], 1, (int) l[2], 1, 1, 0,
                KernelEmulator.Buf.of(x.data(), half), KernelEmulator.Buf.of(bias.data(), half), y, rows, c, p);
        float[] ref = new float[rows * p];
        for (int bi = 0; bi < b; bi++) {
            for (int ci = 0; ci < c; ci++) {
                for (int i = 0; i < p; i++) {
                    double lo = x.data()[(bi * c2 + ci) * p + i] + (double) bias.data()[ci];
                    double hi = x.data()[(bi * c2 + c + ci) * p + i] + (double) bias.data()[c + ci];
                    ref[(bi * c + ci) * p + i] = (float) (lo * hi);
                }
            }
        }
        assertClose("simple_gate_bias fast, v" + v, new FloatTensor(y.as(half), b, c, p), new FloatTensor(ref, b, c, p), tol(half));
    }

    @ParameterizedTest(name = "rows {0} len {1} op {2} half {3}")
    @CsvSource({
            "1, 61440, 0, true", "1, 105, 1, false", "1, 26997, 0, true", "128, 960, 1, true", "2, 5936, 0, false",
            "6, 35, 1, true", "70000, 8, 0, true"   // rows beyond gridDim.y's 65535
    })
    void binary(int rows, int rowLen, int op, boolean half) {
        FloatTensor a = rnd(rowLen * 7L + rows, 1, 0, half, rows, rowLen), b = rnd(rowLen * 11L, 1, 0, half, rowLen);
        int v = width(half, rowLen);
        long[] l = CudaOps.fastRowsLaunch(rows, rowLen, v);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros((long) a.numel() * prec(half).bytes());
        KernelEmulator.launch(Kernel.fast("binary", prec(half), v > 1), l[0], l[1], 1, (int) l[2], 1, 1, 0,
                KernelEmulator.Buf.of(a.data(), half), KernelEmulator.Buf.of(b.data(), half), y, rows, rowLen, op);
        float[] ref = new float[a.numel()];
        for (int i = 0; i < ref.length; i++) {
            double x = a.data()[i], z = b.data()[i % rowLen];
            ref[i] = (float) (op == 0 ? x + z : x * z);
        }
        assertClose("binary fast, v" + v, new FloatTensor(y.as(half), rows, rowLen), new FloatTensor(ref, rows, rowLen), tol(half));
    }

    @ParameterizedTest(name = "[{0},{1},{2},{3}] half {4}")
    @CsvSource({"2, 128, 24, 40, true", "2, 6, 5, 7, false", "3, 4, 2, 2, true", "2, 2, 3, 4, false", "1, 2, 3, 3, true"})
    void simpleGate(int b, int c2, int h, int w, boolean half) {
        int halfLen = c2 / 2 * h * w;
        FloatTensor x = rnd(c2 * 3L + w, 1, 0, half, b, 2 * halfLen);
        int v = width(half, halfLen);
        long[] l = CudaOps.fastRowsLaunch(b, halfLen, v);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros((long) b * halfLen * prec(half).bytes());
        KernelEmulator.launch(Kernel.fast("simple_gate", prec(half), v > 1), l[0], l[1], 1, (int) l[2], 1, 1, 0,
                KernelEmulator.Buf.of(x.data(), half), y, b, halfLen);
        float[] ref = new float[b * halfLen];
        for (int bi = 0; bi < b; bi++) {
            for (int i = 0; i < halfLen; i++) {
                ref[bi * halfLen + i] = (float) ((double) x.data()[2 * bi * halfLen + i] * x.data()[2 * bi * halfLen + halfLen + i]);
            }
        }
        assertClose("simple_gate fast, v" + v, new FloatTensor(y.as(half), b, halfLen), new FloatTensor(ref, b, halfLen), tol(half));
    }
}
