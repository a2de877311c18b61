// unary.cu — elementwise y = f(x) for the activations and scalar ops of Ops:
//   op 0: x * a (Ops.scale)            op 1: x * sigmoid(x) (Ops.silu)
//   op 2: exact GELU 0.5 x (1 + erf(x / sqrt 2)) (Ops.gelu), evaluated as 0.5 x erfc(-x / sqrt 2): the same
//         function without the cancellation of 1 + erf for negative x (at x = -3.5 that form loses 1e-4)
//   op 3: x * sigmoid(1.702 x) (Ops.quickGelu)
//   op 4: min(max(x, a), b) (Ops.clamp; NaN stays NaN like torch.clamp)
//   op 5: e^x (Ops.exp)
// Arithmetic in float32 with the accurate expf / erfcf (no fast-math).
// Launch: 1-D grid-stride, blockDim 256. x and y may have different dtypes (flags).
// Checked by: CudaOpsTest.unary* against the Java formulas, and the conformance suite (CpuOps).
#include "common.cuh"

extern "C" __global__ void unary(const void* x, int xHalf, void* y, int yHalf, i64 n, int op, float a, float b) {
    GRID_STRIDE_LOOP(i, n) {
        float v = ldx(x, xHalf, i);
        float r;
        switch (op) {
            case 0: r = v * a; break;
            case 1: r = v / (1.0f + expf(-v)); break;
            case 2: r = 0.5f * v * erfcf(-v * 0.7071067811865476f); break;
            case 3: r = v / (1.0f + expf(-1.702f * v)); break;
            case 4: r = v < a ? a : (v > b ? b : v); break;
            case 5: r = expf(v); break;
            default: r = v; break;
        }
        stx(y, yHalf, i, r);
    }
}
