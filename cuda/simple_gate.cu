// simple_gate.cu — NAFNet SimpleGate: x [B, 2C, P] -> y [B, C, P], y[b, c, p] = x[b, c, p] * x[b, C + c, p]
// (the first half of the channels times the second half; P = H*W).
// Launch: 1-D grid-stride over B*C*P, blockDim 256.
// Checked by: CudaOpsTest.simpleGate against a Java loop, and the conformance suite (CpuOps.simpleGate).
#include "common.cuh"

extern "C" __global__ void simple_gate(const void* x, int xHalf, void* y, int yHalf, i64 batch, i64 halfSize) {
    i64 n = batch * halfSize;              // halfSize = C * P
    GRID_STRIDE_LOOP(i, n) {
        i64 b = i / halfSize;
        i64 rem = i - b * halfSize;
        i64 base = b * 2 * halfSize + rem;
        stx(y, yHalf, i, ldx(x, xHalf, base) * ldx(x, xHalf, base + halfSize));
    }
}
