// global_avg_pool.cu — mean over each plane: x [R, P] -> y [R] (R = B*C, P = H*W), float32 accumulation
// (NAFNet's simplified channel attention: AdaptiveAvgPool2d(1)).
// Launch: gridDim.x = R (one block per plane), blockDim 256 (a multiple of 32, at most 1024).
// Checked by: CudaOpsTest.globalAvgPool against a double-precision Java mean, and the conformance suite.
#include "common.cuh"

extern "C" __global__ void global_avg_pool(const void* x, int xHalf, void* y, int yHalf, i64 planeSize) {
    __shared__ float partial[32];
    const i64 row = blockIdx.x;
    const void* base = xHalf ? (const void*)((const half_t*)x + row * planeSize)
                             : (const void*)((const float*)x + row * planeSize);
    float s = 0.f;
    for (i64 i = threadIdx.x; i < planeSize; i += blockDim.x) s += ldx(base, xHalf, i);
    s = warp_sum(s);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) partial[warp] = s;
    __syncthreads();
    if (warp == 0) {
        const int warps = (blockDim.x + 31) >> 5;
        float t = lane < warps ? partial[lane] : 0.f;
        t = warp_sum(t);
        if (lane == 0) stx(y, yHalf, row, t / (float)planeSize);
    }
}
