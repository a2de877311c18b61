package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.tensor.FloatTensor;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Shared pieces of the cuda tests: the GPU probe, random data, FP16 rounding and the comparison rule. */
final class CudaTestSupport {
    private CudaTestSupport() { }

    /** Skips the calling test class (from @BeforeAll) with the reason when no usable GPU is present. */
    static void assumeGpu() {
        String reason = CudaAvailability.unavailableReason();
        assumeTrue(reason == null, () -> "no usable GPU: " + reason);
    }

    /** Relative L2 tolerance per precision: float32 kernels land near 1e-7; FP16 storage near 5e-4. */
    static double tolerance(Precision p) {
        return p == Precision.FP32 ? 1e-5 : 2e-3;
    }

    static FloatTensor random(long seed, int... shape) {
        return randomScaled(seed, 1, 0, shape);
    }

    static FloatTensor randomScaled(long seed, double scale, double shift, int... shape) {
        Random r = new Random(seed);
        FloatTensor t = FloatTensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) (r.nextGaussian() * scale + shift);
        return t;
    }

    /**
     * f rounded to the nearest IEEE binary16 value, ties to even, overflow to ±inf, subnormals kept — what the
     * device's cvt.rn.f16.f32 does — returned as a float.
     */
    static float roundToHalf(float f) {
        if (Float.isNaN(f) || Float.isInfinite(f)) return f;
        float a = Math.abs(f);
        if (a >= 65520f) return Math.copySign(Float.POSITIVE_INFINITY, f);
        float quantum = a < 6.103515625e-05f ? 0x1p-24f : Math.scalb(1f, Math.getExponent(a) - 10);
        return Math.copySign((float) (Math.rint(a / quantum) * quantum), f);
    }

    /** Rounds in place to FP16 values when {@code p} is FP16 (so a reference sees what the device stores). */
    static FloatTensor representable(FloatTensor t, Precision p) {
        if (p == Precision.FP16) {
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) d[i] = roundToHalf(d[i]);
        }
        return t;
    }

    /** Fails unless shapes match and ‖out − ref‖ / ‖ref‖ ≤ tol; names the worst element. */
    static void assertClose(String what, FloatTensor out, FloatTensor ref, double tol) {
        if (!Arrays.equals(out.shape(), ref.shape())) {
            fail(what + ": shape " + Arrays.toString(out.shape()) + ", expected " + Arrays.toString(ref.shape()));
        }
        double rel = out.relL2(ref);
        if (rel <= tol) return;
        int worst = 0;
        double worstDiff = -1;
        for (int i = 0; i < ref.numel(); i++) {
            double d = Math.abs((double) out.data()[i] - ref.data()[i]);
            if (Double.isNaN(d)) d = Double.POSITIVE_INFINITY;
            if (d > worstDiff) {
                worstDiff = d;
                worst = i;
            }
        }
        fail(String.format("%s: rel-L2 %.3e > %.1e; worst at flat index %d: got %s, expected %s", what, rel, tol, worst,
                out.data()[worst], ref.data()[worst]));
    }

    /** FP16, the given features, cuDNN as the convolution reference path, a 256 MiB arena: the convolution-candidate tests. */
    static CudaOps.Options fp16ConvOptions(Features f) {
        return CudaOps.Options.defaults(Precision.FP16).withFeatures(f).withConv(CudaOps.ConvAlgorithm.CUDNN).withArenaBytes(256L << 20);
    }

    /** f on the cpu backend (the oracle), downloaded; the stage is ended. */
    static FloatTensor onCpu(dev.autodir.backend.Ops cpu, java.util.function.Function<dev.autodir.backend.Ops, dev.autodir.backend.Tensor> f) {
        FloatTensor out = cpu.download(f.apply(cpu));
        cpu.endStage();
        return out;
    }

    /** conv2d on the cpu backend, downloaded. */
    static FloatTensor cpuConv2d(dev.autodir.backend.Ops cpu, FloatTensor x, FloatTensor w, FloatTensor b, int stride, int pad, int groups) {
        return onCpu(cpu, o -> o.conv2d(o.upload(x), o.upload(w), b == null ? null : o.upload(b), stride, pad, groups));
    }
}
