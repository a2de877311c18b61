// convert.cu — element copy with dtype conversion: dst[i] = (dst dtype) src[i], i in [0, n).
// Used by upload / download (float32 <-> float16), copyInto, and to cast an input of the other dtype to the
// backend's precision before a matrix-class op (autocast-style).
// Launch: 1-D grid-stride, blockDim 256, gridDim = min(ceil(n/256), 32 * SMs).
// Checked by: CudaOpsTest.uploadDownloadRoundTrip (host float32 values vs the round-trip) and every
// conformance case (all data goes through it).
#include "common.cuh"

extern "C" __global__ void convert(const void* src, int srcHalf, void* dst, int dstHalf, i64 n) {
    GRID_STRIDE_LOOP(i, n) stx(dst, dstHalf, i, ldx(src, srcHalf, i));
}
