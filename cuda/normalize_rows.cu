// normalize_rows.cu — y[r, :] = x[r, :] / sqrt(sum_j x[r, j]^2) for x [R, N] (CLIP's normalised embeddings before the
// logits); the sum of squares in float32, merged across the block in a fixed order (deterministic).
// Launch: one block per row, gridDim.x = R, blockDim 256 (a multiple of 32, at most 1024).
// Checked by: GraphKernelsEmulationTest against the cpu backend (which sums in double: relative L2 ≲ 1e-6).
#include "common.cuh"

extern "C" __global__ void normalize_rows(const void* x, int xHalf, void* y, int yHalf, int n) {
    __shared__ float ws[32];
    const i64 base = (i64)blockIdx.x * n;
    float s = 0.f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float v = ldx(x, xHalf, base + j);
        s += v * v;
    }
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(FULL_MASK, s, o);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    if (lane == 0) ws[warp] = s;
    __syncthreads();
    float total = 0.f;
    for (int w = 0; w < warps; w++) total += ws[w];
    const float norm = sqrtf(total);
    for (int j = threadIdx.x; j < n; j += blockDim.x) stx(y, yHalf, base + j, ldx(x, xHalf, base + j) / norm);
}
