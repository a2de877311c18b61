// transpose.cu — batched matrix transpose x [B, R, S] -> y [B, S, R], y[b, s, r] = x[b, r, s].
// Ops.nchwToTokens is R = C, S = H*W; Ops.tokensToNchw is R = H*W, S = C.
// Launch: gridDim = (ceil(S/32), ceil(R/32), B), blockDim (32, 8). Each block stages a 32x32 tile in shared
// memory (row pitch 33 floats: column reads hit 32 different banks) so both the read and the write are
// coalesced. gridDim.y is at most 65535: R <= 2,097,120 (checked on the host).
// Checked by: CudaOpsTest.tokensRoundTrip against Java loops, and the conformance suite.
#include "common.cuh"

extern "C" __global__ void transpose(const void* x, int xHalf, void* y, int yHalf, int R, int S) {
    __shared__ float tile[32][33];
    const i64 b = blockIdx.z;
    const int s0 = blockIdx.x * 32, r0 = blockIdx.y * 32;
    const i64 inBase = b * (i64)R * S, outBase = inBase;
    for (int k = threadIdx.y; k < 32; k += blockDim.y) {
        const int r = r0 + k, s = s0 + threadIdx.x;
        if (r < R && s < S) tile[k][threadIdx.x] = ldx(x, xHalf, inBase + (i64)r * S + s);
    }
    __syncthreads();
    for (int k = threadIdx.y; k < 32; k += blockDim.y) {
        const int s = s0 + k, r = r0 + threadIdx.x;
        if (s < S && r < R) stx(y, yHalf, outBase + (i64)s * R + r, tile[threadIdx.x][k]);
    }
}
