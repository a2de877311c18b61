// binary.cu — elementwise y[i] = a[i] (op) b[i % nb], i in [0, n): residual adds (Ops.add, where b's shape is
// a suffix of a's and repeats over a's leading dimensions) and Ops.mul (nb == n).
//   op 0: add     op 1: multiply
// Launch: 1-D grid-stride, blockDim 256. a, b, y each carry a dtype flag (float32 result if any input is).
// Checked by: CudaOpsTest.addBroadcast / mul against Java loops, and the conformance suite (CpuOps.add/mul).
#include "common.cuh"

extern "C" __global__ void binary(const void* a, int aHalf, const void* b, int bHalf, void* y, int yHalf,
                                  i64 n, i64 nb, int op) {
    GRID_STRIDE_LOOP(i, n) {
        float va = ldx(a, aHalf, i);
        float vb = ldx(b, bHalf, nb == n ? i : i % nb);
        stx(y, yHalf, i, op == 0 ? va + vb : va * vb);
    }
}
