package dev.autodir.backend;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.onnxruntime.OnnxEachOp;
import dev.autodir.backend.onnxruntime.OnnxRuntimeAvailability;
import dev.autodir.backend.onnxruntime.OnnxRuntimeOps;
import dev.autodir.tensor.FloatTensor;

import static org.junit.jupiter.api.Assertions.fail;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The conformance suite with every operation exported to ONNX and run by ONNX Runtime, one operation per network
 * ({@link OnnxEachOp}): each ONNX node pattern against the float64 reference at the float32 tolerance (rel-L2 1e-5).
 * ONNX Runtime reads indices on its side, like a device: an id out of range gives a zero row.
 */
class OnnxRuntimeOpsConformanceTest extends OpsConformanceTest {
    @Override protected Ops createOps() {
        String why = OnnxRuntimeAvailability.unavailableReason();
        assumeTrue(why == null, why);
        return new OnnxEachOp(new OnnxRuntimeOps(new CpuOps(), null, System.err));
    }

    @Override protected boolean rejectsIndicesOutOfRange() { return false; }

    /**
     * GELU is exported in its exact-erf form, x·(1 + erf(x/√2))/2, as PyTorch's own CPU kernel computes it; ONNX has
     * no erfc, so far below zero 1 + erf(·) cancels and the result keeps the float32 resolution of 1 (~1e-7), not the
     * relative accuracy of the cpu backend's erfc form (see VectorMath). For gelu and geglu the absolute term of the
     * element check is therefore 1e-7 · max|ref| (the float32 resolution of the tensor's scale); the relative term and
     * every other operation keep the suite's bound, and the rel-L2 checks are unchanged.
     */
    @Override protected void assertElementwise(String op, String info, Tensor outT, FloatTensor ref) {
        if (!op.equals("gelu") && !op.equals("geglu")) {
            super.assertElementwise(op, info, outT, ref);
            return;
        }
        FloatTensor out = down(outT);
        double maxRef = 0;
        for (float v : ref.data()) maxRef = Math.max(maxRef, Math.abs(v));
        double rtol = 10 * tolerance(), atol = Math.max(tolerance() / 100, 1e-7 * maxRef);   // the second: float32 erf's resolution
        for (int i = 0; i < ref.numel(); i++) {
            double d = Math.abs((double) out.data()[i] - ref.data()[i]);
            if (!(d <= rtol * Math.abs(ref.data()[i]) + atol)) {
                fail(String.format("%s %s: element %d: got %s, expected %s (|diff| %.3e > %.0e·|ref| + %.1e)", op, info, i,
                        out.data()[i], ref.data()[i], d, rtol, atol));
            }
        }
    }
}
