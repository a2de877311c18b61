package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static dev.autodir.backend.cuda.CudaTestSupport.randomScaled;
import static dev.autodir.backend.cuda.CudaTestSupport.representable;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs, without a GPU, the exact work {@code ConvolutionRouting.convIm2col} issues ({@link Im2colPlan#run}: chunks, byte
 * offsets, the im2col launches and the strided-batched products) and compares the result with the cpu backend's
 * convolution. The products go through the double-precision emulation of {@link Matmul.Gemm}'s documented semantics
 * ({@link AttentionProductsTest.Emulator}); the column matrices either come from their definition (always) or from
 * the real im2col.cu run on the host by {@link KernelEmulator} (where g++ with C++20 exists), which must then equal
 * the definition bit for bit, including the columns np..ldc-1 it must leave alone. y starts as NaN so every output
 * element must be written. What this cannot check: cuBLASLt itself, and the kernel's speed (CudaConvIm2colTest and
 * CudaBench do, on a GPU).
 */
class Im2colProductsTest {
    private static final float UNTOUCHED = Float.NaN;

    /** The column matrix of chunk c by its definition: [images][rows][ldc], NaN beyond np. */
    private static float[] definition(float[] x, long x0, Convolution.Key k, int wo, Im2colPlan.Chunk c) {
        int rows = k.cin() * k.kh() * k.kw();
        float[] col = new float[c.images() * rows * c.ldc()];
        Arrays.fill(col, UNTOUCHED);
        for (int z = 0; z < c.images(); z++) {
            for (int r = 0; r < rows; r++) {
                int ci = r / (k.kh() * k.kw()), ky = r / k.kw() % k.kh(), kx = r % k.kw();
                for (int j = 0; j < c.np(); j++) {
                    int p = c.p0() + j, iy = p / wo * k.stride() - k.pad() + ky, ix = p % wo * k.stride() - k.pad() + kx;
                    boolean inside = iy >= 0 && iy < k.h() && ix >= 0 && ix < k.w();
                    col[(z * rows + r) * c.ldc() + j] = inside ? x[(int) (x0 + ((long) (z * k.cin() + ci) * k.h() + iy) * k.w() + ix)] : 0f;
                }
            }
        }
        return col;
    }

    /** The device as emulated memory: im2col by definition or by the emulated kernel, products by the Gemm emulation. */
    private static final class Emulation implements Im2colPlan.Sink {
        final AttentionProductsTest.Memory mem = new AttentionProductsTest.Memory();
        final AttentionProductsTest.Emulator products = new AttentionProductsTest.Emulator(mem);
        final Convolution.Key key;
        final int wo;
        final boolean kernel;
        int im2cols;

        Emulation(Convolution.Key key, int wo, boolean kernel) {
            this.key = key;
            this.wo = wo;
            this.kernel = kernel;
        }

        @Override
        public void im2col(long xa, long ca, Im2colPlan.Chunk c) {
            im2cols++;
            AttentionProductsTest.Memory.Region rx = mem.at(xa, Precision.FP16, "im2col x"), rc = mem.at(ca, Precision.FP16, "im2col col");
            long x0 = (xa - rx.base()) / 2, c0 = (ca - rc.base()) / 2;
            float[] want = definition(rx.data(), x0, key, wo, c);
            if (c0 + want.length > rc.data().length) fail("chunk " + c + " overruns the column buffer of " + rc.data().length);
            if (kernel) {
                float[] cleared = rc.data().clone();
                Arrays.fill(cleared, UNTOUCHED);
                KernelEmulator.Buf xb = KernelEmulator.Buf.halves(rx.data()), cb = KernelEmulator.Buf.halves(cleared);
                KernelEmulator.launch(Kernel.IM2COL, Im2colPlan.blocks(c.np()), Math.min(key.cin(), 65535), c.images(),
                        Im2colPlan.threads(c.np()), 1, 1, 0, xb.at(xa - rx.base()), cb.at(ca - rc.base()), key.cin(), key.h(),
                        key.w(), key.kh(), key.kw(), key.stride(), key.pad(), wo, c.p0(), c.np(), c.ldc());
                float[] got = cb.asHalves();
                for (int i = 0; i < want.length; i++) {
                    if (Float.floatToIntBits(got[(int) c0 + i]) != Float.floatToIntBits(want[i])) {
                        fail("im2col.cu, chunk " + c + ", element " + i + " (row " + i / c.ldc() % (want.length / c.images() / c.ldc())
                                + ", column " + i % c.ldc() + "): got " + got[(int) c0 + i] + ", expected " + want[i]);
                    }
                }
            }
            Arrays.fill(rc.data(), UNTOUCHED);
            System.arraycopy(want, 0, rc.data(), (int) c0, want.length);
        }

        @Override
        public void gemm(Matmul.Gemm g, long a, long b, long d) {
            products.gemm(g, 1f, a, b, d);
        }
    }

    private static void check(boolean kernel, int b, int cin, int cout, int h, int w, int kh, int kw, int stride, int pad, long cap) {
        int ho = (h + 2 * pad - kh) / stride + 1, wo = (w + 2 * pad - kw) / stride + 1;
        Convolution.Key key = new Convolution.Key(Precision.FP16, b, cin, h, w, cout, kh, kw, stride, pad, 1);
        FloatTensor x = representable(random(b * 100 + cin + h, b, cin, h, w), Precision.FP16);
        FloatTensor wt = representable(randomScaled(cout + kh, 1 / Math.sqrt(cin * kh * kw), 0, cout, cin, kh, kw), Precision.FP16);
        Im2colPlan plan = Im2colPlan.of(b, ho * wo, cin * kh * kw, cap);
        Emulation e = new Emulation(key, wo, kernel);
        long xa = e.mem.add("x", x.data().clone(), Precision.FP16), wa = e.mem.add("w", wt.data().clone(), Precision.FP16);
        float[] y = new float[b * cout * ho * wo];
        Arrays.fill(y, Float.NaN);
        long ya = e.mem.add("y", y, Precision.FP16);
        long ca = e.mem.add("col", new float[(int) (plan.bufferBytes() / 2)], Precision.FP16);
        plan.run(e, key, xa, wa, ya, ca);
        assertEquals(plan.chunks().size(), e.im2cols, "one im2col launch per chunk");
        assertEquals(plan.chunks().size(), e.products.gemms, "one product per chunk");
        FloatTensor ref;
        try (CpuOps cpu = new CpuOps(1, false)) {
            ref = cpu.download(cpu.conv2d(cpu.upload(x), cpu.upload(wt), null, stride, pad, 1));
        }
        // rel-L2 ≤ 1e-5: the same FP16-valued inputs summed in double (emulation) and in float32 (cpu backend), not rounded to FP16
        assertClose((kernel ? "emulated im2col.cu" : "defined columns") + " + emulated products", new FloatTensor(y, b, cout, ho, wo), ref, 1e-5);
    }

    @ParameterizedTest(name = "B{0} Cin{1} Cout{2} {3}x{4} k{5}x{6} s{7} p{8} cap {9}")
    @CsvSource({
            "2, 32, 128, 17, 13, 3, 3, 1, 1, 268435456",   // batch 2 in one chunk (zero weight stride), odd sizes
            "1, 64, 48, 16, 16, 3, 3, 2, 1, 268435456",    // stride 2
            "1, 24, 40, 9, 11, 3, 3, 1, 0, 268435456",     // padding 0
            "2, 16, 128, 10, 10, 1, 1, 2, 0, 268435456",   // 1x1, stride 2
            "1, 20, 24, 15, 15, 1, 1, 1, 1, 268435456",    // 1x1, padding 1
            "1, 8, 16, 12, 9, 2, 2, 1, 0, 268435456",      // 2x2
            "1, 8, 16, 12, 9, 2, 2, 2, 1, 268435456",      // 2x2, stride 2, padding 1
            "2, 3, 128, 19, 23, 3, 3, 1, 1, 268435456",    // K = 27
            "1, 6, 8, 47, 51, 3, 3, 1, 1, 268435456",      // 2397 pixels: two blocks of 256 threads, a partial last group
            "1, 5, 7, 30, 33, 5, 5, 1, 2, 268435456",      // 5x5, padding 2
            "2, 32, 128, 40, 36, 3, 3, 1, 1, 147456",      // 6 pixel chunks per image, the last of 160
            "2, 32, 128, 79, 71, 3, 3, 2, 1, 147456",      // the same with stride 2
            "3, 32, 128, 40, 36, 3, 3, 1, 1, 1769472",     // 2 + 1 whole images
    })
    void emulatedKernelAndProductsGiveTheConvolution(int b, int cin, int cout, int h, int w, int kh, int kw, int stride, int pad, long cap) {
        check(false, b, cin, cout, h, w, kh, kw, stride, pad, cap);
        String reason = KernelEmulator.unavailableReason();
        assumeTrue(reason == null, () -> "im2col.cu not emulated: " + reason);
        check(true, b, cin, cout, h, w, kh, kw, stride, pad, cap);
    }

    /** gridDim.y below Cin (Cin > 65535 on a device): each block row walks several channels. */
    @Test
    void kernelWalksChannelsBeyondGridY() {
        String reason = KernelEmulator.unavailableReason();
        assumeTrue(reason == null, () -> "im2col.cu not emulated: " + reason);
        Convolution.Key k = new Convolution.Key(Precision.FP16, 2, 13, 9, 10, 8, 3, 3, 1, 1, 1);
        int wo = 10, np = 90, ldc = 128, rows = 13 * 9;
        float[] x = representable(random(77, 2, 13, 9, 10), Precision.FP16).data();
        Im2colPlan.Chunk c = new Im2colPlan.Chunk(0, 2, 0, np, ldc);
        float[] init = new float[2 * rows * ldc];
        Arrays.fill(init, UNTOUCHED);
        KernelEmulator.Buf cb = KernelEmulator.Buf.halves(init);
        KernelEmulator.launch(Kernel.IM2COL, Im2colPlan.blocks(np), 4, 2, Im2colPlan.threads(np), 1, 1, 0, KernelEmulator.Buf.halves(x), cb,
                13, 9, 10, 3, 3, 1, 1, wo, 0, np, ldc);
        float[] got = cb.asHalves(), want = definition(x, 0, k, wo, c);
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToIntBits(got[i]) != Float.floatToIntBits(want[i])) fail("element " + i + ": got " + got[i] + ", expected " + want[i]);
        }
    }
}
