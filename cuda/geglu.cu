// geglu.cu — GEGLU of the SD transformer feed-forward: x [R, 2F] -> y [R, F],
// y[r, f] = x[r, f] * gelu(x[r, F + f]) with the exact erf GELU (ldm: x, gate = proj(x).chunk(2, -1)),
// evaluated as 0.5 g erfc(-g / sqrt 2) (no cancellation for negative g; see unary.cu).
// Launch: 1-D grid-stride over R*F, blockDim 256.
// Checked by: CudaOpsTest.geglu against a Java loop, and the conformance suite (CpuOps.geglu).
#include "common.cuh"

extern "C" __global__ void geglu(const void* x, int xHalf, void* y, int yHalf, i64 rows, int F) {
    i64 n = rows * (i64)F;
    GRID_STRIDE_LOOP(i, n) {
        i64 r = i / F;
        i64 f = i - r * F;
        float a = ldx(x, xHalf, r * 2 * F + f);
        float g = ldx(x, xHalf, r * 2 * F + F + f);
        stx(y, yHalf, i, a * (0.5f * g * erfcf(-g * 0.7071067811865476f)));
    }
}
