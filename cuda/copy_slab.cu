// copy_slab.cu — copies a slab along one dimension, viewing both tensors as [outer, D, inner]:
//   dst[o, dstOff + j, k] = src[o, srcOff + j, k] for o < outer, j < count, k < inner.
// Ops.concat launches it once per part (srcOff 0, dstOff = running offset); Ops.slice once (srcOff = from).
// Launch: 1-D grid-stride over outer*count*inner, blockDim 256; the innermost index is contiguous in both.
// Checked by: CudaOpsTest.concatSlice (every dim of a rank-4 tensor) and the conformance suite.
#include "common.cuh"

extern "C" __global__ void copy_slab(const void* src, int srcHalf, void* dst, int dstHalf,
                                     i64 outer, i64 count, i64 inner, i64 srcDim, i64 srcOff,
                                     i64 dstDim, i64 dstOff) {
    const i64 slab = count * inner;
    const i64 n = outer * slab;
    GRID_STRIDE_LOOP(i, n) {
        const i64 o = i / slab;
        const i64 rem = i - o * slab;
        const i64 j = rem / inner;
        const i64 k = rem - j * inner;
        const float v = ldx(src, srcHalf, (o * srcDim + srcOff + j) * inner + k);
        stx(dst, dstHalf, (o * dstDim + dstOff + j) * inner + k, v);
    }
}
