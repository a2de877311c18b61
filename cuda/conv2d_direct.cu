// conv2d_direct.cu — 2-D convolution, one thread per output element, float32 accumulation, any dtype (flags),
// any stride / padding / groups (depthwise included):
//   y[b, co, oy, ox] = bias[co] + sum_{ci < Cin/G, ky, kx} x[b, g*Cin/G + ci, oy*s - p + ky, ox*s - p + kx]
//                                  * w[co, ci, ky, kx],   g = co / (Cout/G), zero padding outside x.
// The fallback when cuDNN is unavailable, and the path for small or grouped convolutions where a GEMM tile
// would be mostly empty (NAFNet's depthwise 3x3).
// Launch: 1-D grid-stride over B*Cout*Ho*Wo (ox fastest: neighbouring threads read neighbouring pixels and
// share the weight row), blockDim 256.
// Checked by: CudaOpsTest.conv2d* (stride 1/2, padding 0/1, groups 1/2/depthwise, 1x1 and 3x3, against a
// Java loop in double) and the conformance suite (CpuOps.conv2d), with the backend forced to this path.
#include "common.cuh"

extern "C" __global__ void conv2d_direct(const void* x, int xHalf, const void* w, int wHalf, const void* bias,
                                         int biasHalf, int hasBias, void* y, int yHalf, int B, int Cin, int H,
                                         int W, int Cout, int kh, int kw, int stride, int pad, int Ho, int Wo,
                                         int groups) {
    const int cinG = Cin / groups, coutG = Cout / groups;
    const i64 n = (i64)B * Cout * Ho * Wo;
    GRID_STRIDE_LOOP(i, n) {
        const int ox = (int)(i % Wo);
        const i64 r1 = i / Wo;
        const int oy = (int)(r1 % Ho);
        const i64 r2 = r1 / Ho;
        const int co = (int)(r2 % Cout);
        const int b = (int)(r2 / Cout);
        const int g = co / coutG;
        const int iy0 = oy * stride - pad, ix0 = ox * stride - pad;
        float acc = 0.f;
        for (int ci = 0; ci < cinG; ci++) {
            const i64 xPlane = ((i64)b * Cin + (i64)g * cinG + ci) * H;
            const i64 wRow = ((i64)co * cinG + ci) * kh;
            for (int ky = 0; ky < kh; ky++) {
                const int iy = iy0 + ky;
                if (iy < 0 || iy >= H) continue;
                for (int kx = 0; kx < kw; kx++) {
                    const int ix = ix0 + kx;
                    if (ix < 0 || ix >= W) continue;
                    acc += ldx(x, xHalf, (xPlane + iy) * W + ix) * ldx(w, wHalf, (wRow + ky) * kw + kx);
                }
            }
        }
        if (hasBias) acc += ldx(bias, biasHalf, co);
        stx(y, yHalf, i, acc);
    }
}
