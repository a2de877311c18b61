// layer_norm.cu — LayerNorm over the last dimension: x [R, C] -> y [R, C],
//   y = (x - mean) / sqrt(var + eps) * gamma + beta, biased variance, two passes in float32 (the mean of
//   x - x[row, 0], then the centred sum of squares), so a large mean neither rounds the sum nor cancels the variance.
// Launch: one warp per row: blockDim 256 (8 rows per block), gridDim = ceil(R / 8). A warp whose row is past
// R leaves as a whole (no shuffle is left half-populated).
// Checked by: CudaOpsTest.layerNorm (double-precision Java reference, widths 3..1280) and the conformance
// suite (CpuOps.layerNorm).
#include "common.cuh"

extern "C" __global__ void layer_norm(const void* x, int xHalf, const void* gamma, int gammaHalf,
                                      const void* beta, int betaHalf, void* y, int yHalf,
                                      i64 rows, int C, float eps) {
    const int lane = threadIdx.x & 31;
    const i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const i64 base = row * C;
    // the sum runs on x - x[row, 0], so a large common offset does not eat the float32 mantissa
    const float shift = ldx(x, xHalf, base);
    float s = 0.f;
    for (int c = lane; c < C; c += 32) s += ldx(x, xHalf, base + c) - shift;
    const float mean = shift + warp_sum(s) / (float)C;
    float q = 0.f;
    for (int c = lane; c < C; c += 32) {
        float d = ldx(x, xHalf, base + c) - mean;
        q += d * d;
    }
    const float var = warp_sum(q) / (float)C;
    const float rstd = 1.0f / sqrtf(var + eps);
    for (int c = lane; c < C; c += 32) {
        float v = (ldx(x, xHalf, base + c) - mean) * rstd;
        stx(y, yHalf, base + c, v * ldx(gamma, gammaHalf, c) + ldx(beta, betaHalf, c));
    }
}
