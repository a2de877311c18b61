package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.randomScaled;
import static dev.autodir.backend.cuda.CudaTestSupport.representable;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The kernels behind the graph boundary's operations (int32 ids and indices, CLIP's pooling and logits, BIQA's
 * softmax and mix) run on the host through {@link KernelEmulator}, launched exactly as {@link CudaOps} launches them
 * (its {@link KernelLaunch} builders: argument order, derived arguments such as the crop offset, grid), against the
 * cpu backend, the reference. Tolerances: exact where both sides do the same float32 operations (copies, one multiply,
 * CLIP's preprocessing arithmetic), relative L2 1e-6 for float32 reductions and exp (summation order, expf against
 * Math.exp), 2e-3 with FP16 storage. Skipped, with the reason, where no g++ with C++20 is installed.
 */
class GraphKernelsEmulationTest {
    private static CpuOps cpu;

    @BeforeAll static void open() { cpu = new CpuOps(1, false); }

    @AfterAll static void close() { if (cpu != null) cpu.close(); }

    @BeforeEach
    void needsCompiler() {
        String reason = KernelEmulator.unavailableReason();
        assumeTrue(reason == null, () -> "no kernel emulation: " + reason);
    }

    private static KernelEmulator.Buf ints(int[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : v) b.putInt(x);
        return new KernelEmulator.Buf(b.array());
    }

    private static int[] asInts(KernelEmulator.Buf buf) {
        ByteBuffer b = ByteBuffer.wrap(buf.bytes).order(ByteOrder.LITTLE_ENDIAN);
        int[] v = new int[buf.bytes.length / 4];
        for (int i = 0; i < v.length; i++) v[i] = b.getInt();
        return v;
    }

    private static void run(KernelLaunch l) {
        KernelEmulator.launch(l.kernel(), l.gx(), l.gy(), l.gz(), l.bx(), l.by(), l.bz(), l.sharedBytes(), l.args().toArray());
    }

    private static boolean half(Precision p) { return p == Precision.FP16; }

    private static KernelEmulator.Buf out(long n, Precision p) { return KernelEmulator.Buf.zeros(n * p.bytes()); }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void embeddingGathersRowsOfDeviceIdsAndZeroesIdsOutsideTheTable(Precision p) {
        int vocab = 11, c = 6;
        FloatTensor table = representable(randomScaled(1, 1, 0, vocab, c), p);
        int[] ids = {3, 0, 10, 3, 7, 1, 9, 4};   // [2, 4], a repeat, both ends
        KernelEmulator.Buf y = out((long) ids.length * c, p);
        run(CudaOps.embeddingLaunch(KernelEmulator.Buf.of(table.data(), half(p)), p, vocab, c, ints(ids), ids.length, y, p, 2));
        FloatTensor ref = (FloatTensor) cpu.embedding(table, new IntTensor(ids, 2, 4));
        assertArrayEquals(ref.data(), y.as(half(p)), "embedding rows (copies: exact)");

        int[] bad = {-1, 2, vocab, 5};
        KernelEmulator.Buf z = out((long) bad.length * c, p);
        run(CudaOps.embeddingLaunch(KernelEmulator.Buf.of(table.data(), half(p)), p, vocab, c, ints(bad), bad.length, z, p, 1));
        float[] got = z.as(half(p));
        for (int j = 0; j < c; j++) {
            assertArrayEquals(new float[] {0, table.data()[2 * c + j], 0, table.data()[5 * c + j]},
                    new float[] {got[j], got[c + j], got[2 * c + j], got[3 * c + j]}, "column " + j + ": ids outside the table give zero rows");
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void gatherRowsPicksOneRowPerBatchEntry(Precision p) {
        int batch = 3, n = 7, c = 5;
        FloatTensor x = representable(randomScaled(2, 1, 0, batch, n, c), p);
        int[] rows = {6, 0, 3};
        KernelEmulator.Buf y = out((long) batch * c, p);
        run(CudaOps.gatherRowsLaunch(KernelEmulator.Buf.of(x.data(), half(p)), p, batch, n, c, ints(rows), y, p, 2));
        FloatTensor ref = (FloatTensor) cpu.gatherRows(x, new IntTensor(rows, batch));
        assertArrayEquals(ref.data(), y.as(half(p)), "gathered rows (copies: exact)");

        KernelEmulator.Buf z = out((long) batch * c, p);
        run(CudaOps.gatherRowsLaunch(KernelEmulator.Buf.of(x.data(), half(p)), p, batch, n, c, ints(new int[] {n, -1, 2}), z, p, 1));
        float[] got = z.as(half(p));
        for (int j = 0; j < c; j++) {
            assertArrayEquals(new float[] {0, 0, x.data()[(2 * n + 2) * c + j]}, new float[] {got[j], got[c + j], got[2 * c + j]},
                    "column " + j + ": rows outside [0, N) give zeros");
        }
    }

    @Test
    void argmaxOfInt32IdsFindsTheFirstLargest() {
        int rows = 4, n = 77;
        int[] ids = new int[rows * n];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < n; j++) ids[r * n + j] = (j * 31 + r * 7) % 400;
            ids[r * n + 5 + 9 * r] = 49407;                   // CLIP's end-of-text id, the largest
            ids[r * n + 40 + r] = 49407;                      // a second one later: the first counts
        }
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros(rows * 4L);
        run(CudaOps.argmaxLaunch(ints(ids), null, y, rows, n, 1));
        IntTensor ref = (IntTensor) cpu.argmax(new IntTensor(ids, rows, n));
        assertArrayEquals(ref.data(), asInts(y));
        assertArrayEquals(new int[] {5, 14, 23, 32}, asInts(y));
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void argmaxOfFloatsMatchesTheCpuBackendOnTiesAndNaN(Precision p) {
        int rows = 5, n = 9;
        FloatTensor x = representable(randomScaled(3, 1, 0, rows, n), p);
        float[] d = x.data();
        d[1 * n + 2] = 7f;
        d[1 * n + 6] = 7f;                                    // a tie: the first index
        d[2 * n] = Float.NaN;                                 // a leading NaN stays
        d[3 * n + 4] = Float.NaN;                             // a later NaN is never larger
        d[3 * n + 8] = 9f;
        for (int j = 0; j < n; j++) d[4 * n + j] = -1f;       // all equal: index 0
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros(rows * 4L);
        run(CudaOps.argmaxLaunch(KernelEmulator.Buf.of(d, half(p)), p, y, rows, n, 2));
        IntTensor ref = (IntTensor) cpu.argmax(x);
        assertArrayEquals(ref.data(), asInts(y), "argmax rows");
    }

    @ParameterizedTest(name = "rows {0} n {1} {2}")
    @CsvSource({"5, 300, FP32", "2, 7, FP32", "3, 768, FP16", "1, 1, FP32"})
    void normalizeRowsMatchesTheCpuBackend(int rows, int n, Precision p) {
        FloatTensor x = representable(randomScaled(4 + n, 2, 0.3, rows, n), p);
        KernelEmulator.Buf y = out((long) rows * n, p);
        run(CudaOps.normalizeRowsLaunch(KernelEmulator.Buf.of(x.data(), half(p)), p, y, p, rows, n));
        // a float32 sum of squares against the cpu backend's double: 1e-6; FP16 output: 2e-3
        assertClose("normalize_rows emulated", new FloatTensor(y.as(half(p)), rows, n), (FloatTensor) cpu.normalizeRows(x), half(p) ? 2e-3 : 1e-6);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void expIsUnaryCodeFive(Precision p) {
        FloatTensor x = representable(randomScaled(5, 2, 0, 3, 70), p);
        x.data()[0] = 4.6052f;                                // CLIP's logit_scale: exp gives 100
        KernelEmulator.Buf y = out(x.numel(), p);
        run(CudaOps.unaryLaunch(KernelEmulator.Buf.of(x.data(), half(p)), p, y, p, x.numel(), 5, 0f, 0f, 1));
        // expf against Math.exp rounded to float: a few ulps; FP16 output: 2e-3
        assertClose("unary exp emulated", new FloatTensor(y.as(half(p)), 3, 70), (FloatTensor) cpu.exp(x), half(p) ? 2e-3 : 1e-6);
    }

    /** As CudaOps.softmax: FP16 scores are first converted to float32 scratch (the kernel reads float32). */
    @ParameterizedTest(name = "rows {0} n {1} {2}")
    @CsvSource({"1, 8, FP32", "1, 8, FP16", "4, 130, FP32", "3, 513, FP16"})
    void softmaxAsTheOperationRunsIt(int rows, int n, Precision p) {
        FloatTensor x = representable(randomScaled(6 + n, 3, 0.5, rows, n), p);
        x.data()[n - 1] = Float.NEGATIVE_INFINITY;            // BIQA's removed class: probability exactly 0
        KernelEmulator.Buf scores = KernelEmulator.Buf.floats(x.data());
        if (half(p)) {
            scores = KernelEmulator.Buf.zeros(4L * rows * n);
            KernelEmulator.launch(Kernel.CONVERT, 1, 1, 1, 256, 1, 1, 0, KernelEmulator.Buf.halves(x.data()), 1, scores, 0, (long) rows * n);
        }
        KernelEmulator.Buf y = out((long) rows * n, p);
        run(CudaOps.softmaxRowsLaunch(scores, y, p, rows, n));
        float[] got = y.as(half(p));
        assertArrayEquals(new float[] {0f}, new float[] {got[n - 1]}, "exp(-inf) is exactly 0");
        assertClose("softmax emulated", new FloatTensor(got, rows, n), (FloatTensor) cpu.softmax(x), half(p) ? 2e-3 : 1e-6);
    }

    /** As CudaOps.mulScalar: x viewed as one channel of numel elements times a one-element tensor (per_channel, op 1). */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Precision.class)
    void mulScalarAsTheOperationRunsIt(Precision p) {
        FloatTensor x = representable(randomScaled(7, 1, 0, 4, 9), p), s = representable(new FloatTensor(new float[] {14.28f}, 1), p);
        KernelEmulator.Buf y = out(x.numel(), p);
        run(CudaOps.perChannelLaunch(KernelEmulator.Buf.of(x.data(), half(p)), p, KernelEmulator.Buf.of(s.data(), half(p)), p, y, p,
                x.numel(), x.numel(), 1, 1, 2));
        FloatTensor ref = representable((FloatTensor) cpu.mulScalar(x, s), p);
        assertArrayEquals(ref.data(), y.as(half(p)), "one float32 multiply per element (then FP16 rounding): exact");
    }

    @ParameterizedTest(name = "{0}x{1} size {2} {3}")
    @CsvSource({"30, 25, 20, FP32", "30, 25, 41, FP32", "31, 24, 40, FP32", "30, 25, 27, FP16", "224, 224, 224, FP32"})
    void clipPixelValuesCropsAndPadsAsTheCpuBackend(int h, int w, int size, Precision p) {
        FloatTensor image = randomScaled(8 + size, 0.5, 0, 1, 3, h, w);
        KernelEmulator.Buf x = KernelEmulator.Buf.floats(image.data()), y = out(3L * size * size, p);
        run(CudaOps.clipPixelValuesLaunch(x, Precision.FP32, h, w, y, p, size, CudaOps.CLIP_MEAN, CudaOps.CLIP_STD, 3));
        FloatTensor ref = representable((FloatTensor) cpu.clipPixelValues(image, size, CudaOps.CLIP_MEAN, CudaOps.CLIP_STD), p);
        // the same float32 operations in the same order on both sides: exact (odd paddings: the offset rule too)
        assertArrayEquals(ref.data(), y.as(half(p)), "clip pixel values " + h + "x" + w + " -> " + size);
    }
}
