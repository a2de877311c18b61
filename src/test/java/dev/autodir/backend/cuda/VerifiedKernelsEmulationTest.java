package dev.autodir.backend.cuda;

import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.function.Function;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static dev.autodir.backend.cuda.CudaTestSupport.randomScaled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Kernels already verified on the H200, run again on the host through {@link KernelEmulator} against the cpu
 * backend in CI: a change to cuda/common.cuh (shared by every kernel) or to one of these files shows up here before
 * it reaches a device. Float32 throughout; relative L2 1e-6 where the host's libm and Java's differ in the last bit
 * of exp / erfc, bit-exact where the kernels promise it (the sampler update and the CFG combine, written without
 * FMA contraction — the emulation compiles with -ffp-contract=off for the same reason).
 * Skipped, with the reason, where no g++ is installed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VerifiedKernelsEmulationTest {
    private CpuOps cpu;

    @BeforeAll
    void open() {
        cpu = new CpuOps();
        if (KernelEmulator.unavailableReason() == null) {   // every kernel this class launches, two compiles at a time
            KernelEmulator.prepare(Kernel.UNARY, Kernel.GEGLU, Kernel.UPSAMPLE_NEAREST2X, Kernel.PIXEL_SHUFFLE, Kernel.TRANSPOSE,
                    Kernel.CFG_COMBINE, Kernel.EULER_ANCESTRAL);
        }
    }

    @AfterAll
    void close() { cpu.close(); }

    @BeforeEach
    void needsCompiler() {
        String reason = KernelEmulator.unavailableReason();
        assumeTrue(reason == null, () -> "no kernel emulation: " + reason);
    }

    private FloatTensor onCpu(Function<Tensor, Tensor> op, FloatTensor x) {
        return cpu.download(op.apply(cpu.upload(x)));
    }

    private static KernelEmulator.Buf f32(FloatTensor t) { return KernelEmulator.Buf.floats(t.data()); }

    @ParameterizedTest(name = "op {0}")
    @ValueSource(ints = {0, 1, 2, 3, 4})
    void unary(int code) {
        FloatTensor x = randomScaled(20 + code, 3, 0, 3, 1000);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros(x.numel() * 4L);
        float a = code == 4 ? -1.5f : 0.7f, b = 2f;
        KernelEmulator.launch(Kernel.UNARY, 4, 1, 1, 256, 1, 1, 0, f32(x), 0, y, 0, (long) x.numel(), code, a, b);   // grid-stride over 3000
        FloatTensor ref = switch (code) {
            case 0 -> onCpu(t -> cpu.scale(t, a), x);
            case 1 -> onCpu(cpu::silu, x);
            case 2 -> onCpu(cpu::gelu, x);
            case 3 -> onCpu(cpu::quickGelu, x);
            default -> onCpu(t -> cpu.clamp(t, a, b), x);
        };
        assertClose("unary op " + code + " emulated", new FloatTensor(y.asFloats(), x.shape()), ref, 1e-6);   // libm vs Java in the last bit
    }

    @Test
    void geglu() {
        FloatTensor x = random(30, 7, 2 * 45);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros(7 * 45 * 4L);
        KernelEmulator.launch(Kernel.GEGLU, 2, 1, 1, 256, 1, 1, 0, f32(x), 0, y, 0, 7L, 45);
        assertClose("geglu emulated", new FloatTensor(y.asFloats(), 7, 45), onCpu(cpu::geglu, x), 1e-6);   // erfc in the last bit
    }

    @Test
    void upsampleAndPixelShuffleAreExactCopies() {
        FloatTensor x = random(31, 2, 3, 5, 7);
        KernelEmulator.Buf up = KernelEmulator.Buf.zeros(2 * 3 * 10 * 14 * 4L);
        KernelEmulator.launch(Kernel.UPSAMPLE_NEAREST2X, 3, 1, 1, 256, 1, 1, 0, f32(x), 0, up, 0, 6L, 5, 7);
        assertArrayEquals(onCpu(cpu::upsampleNearest2x, x).data(), up.asFloats(), "upsample_nearest2x emulated");
        FloatTensor p = random(32, 2, 2 * 9, 3, 4);
        KernelEmulator.Buf ps = KernelEmulator.Buf.zeros(p.numel() * 4L);
        KernelEmulator.launch(Kernel.PIXEL_SHUFFLE, 2, 1, 1, 256, 1, 1, 0, f32(p), 0, ps, 0, 4L, 3, 4, 3);
        assertArrayEquals(onCpu(t -> cpu.pixelShuffle(t, 3), p).data(), ps.asFloats(), "pixel_shuffle emulated");
    }

    @Test
    void transposeThroughSharedMemoryTiles() {
        int b = 2, r = 40, s = 70;   // partial 32x32 tiles on both edges
        FloatTensor x = random(33, b, r, s);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros(x.numel() * 4L);
        KernelEmulator.launch(Kernel.TRANSPOSE, (s + 31) / 32, (r + 31) / 32, b, 32, 8, 1, 0, f32(x), 0, y, 0, r, s);
        FloatTensor ref = onCpu(cpu::nchwToTokens, new FloatTensor(x.data(), b, r, s, 1));
        assertArrayEquals(ref.data(), y.asFloats(), "transpose emulated");
    }

    @Test
    void samplerUpdatesAreBitExact() {
        int n = 1500;
        FloatTensor c = random(34, n), ic = random(35, n), u = random(36, n), z = random(37, n), den = random(38, n), noise = random(39, n);
        KernelEmulator.Buf y = KernelEmulator.Buf.zeros(n * 4L);
        KernelEmulator.launch(Kernel.CFG_COMBINE, 2, 1, 1, 256, 1, 1, 0, f32(c), 0, f32(ic), 0, f32(u), 0, y, 0, (long) n, 7.5f, 1.5f);
        assertArrayEquals(Reference.cfgCombine(c, ic, u, 7.5f, 1.5f).data(), y.asFloats(), "cfg_combine emulated");
        KernelEmulator.Buf z2 = KernelEmulator.Buf.zeros(n * 4L);
        KernelEmulator.launch(Kernel.EULER_ANCESTRAL, 2, 1, 1, 256, 1, 1, 0, f32(z), 0, f32(den), 0, f32(noise), 0, 1, z2, 0, (long) n,
                3.1f, 2.2f, 0.9f);
        assertArrayEquals(Reference.eulerAncestral(z, den, noise, 3.1f, 2.2f, 0.9f).data(), z2.asFloats(), "euler_ancestral emulated");
    }
}
