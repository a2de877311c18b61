// layer_norm_channels.cu — NAFNet's LayerNorm2d: x [B, C, P] (P = H*W) normalised over C at every pixel:
//   y[b, c, p] = (x[b, c, p] - mean_bp) / sqrt(var_bp + eps) * gamma[c] + beta[c], biased variance,
//   two passes in float32 (the mean of x - x[b, 0, p], then the centred sum of squares).
// Launch: one thread per (b, p): 1-D grid-stride over B*P, blockDim 256; for a fixed c, neighbouring threads
// read neighbouring pixels, so every pass is coalesced.
// Checked by: CudaOpsTest.layerNormChannels (double-precision Java reference) and the conformance suite.
#include "common.cuh"

extern "C" __global__ void layer_norm_channels(const void* x, int xHalf, const void* gamma, int gammaHalf,
                                               const void* beta, int betaHalf, void* y, int yHalf,
                                               i64 batch, int C, i64 planeSize, float eps) {
    const i64 n = batch * planeSize;
    GRID_STRIDE_LOOP(i, n) {
        const i64 b = i / planeSize;
        const i64 p = i - b * planeSize;
        const i64 base = b * C * planeSize + p;
        const float shift = ldx(x, xHalf, base);   // sum x - x[b, 0, p]: a large offset does not round the sum
        float s = 0.f;
        for (int c = 0; c < C; c++) s += ldx(x, xHalf, base + c * planeSize) - shift;
        const float mean = shift + s / (float)C;
        float q = 0.f;
        for (int c = 0; c < C; c++) {
            float d = ldx(x, xHalf, base + c * planeSize) - mean;
            q += d * d;
        }
        const float rstd = 1.0f / sqrtf(q / (float)C + eps);
        for (int c = 0; c < C; c++) {
            float v = (ldx(x, xHalf, base + c * planeSize) - mean) * rstd;
            stx(y, yHalf, base + c * planeSize, v * ldx(gamma, gammaHalf, c) + ldx(beta, betaHalf, c));
        }
    }
}
