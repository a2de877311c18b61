// window2d.cu — a window of each plane with zero fill: x [R, H, W] -> y [R, Ho, Wo] (R = B*C),
//   y[r, oy, ox] = x[r, oy + dy, ox + dx] when that source pixel is inside x, else 0.
// Ops.pad2d is dy = -top, dx = -left (Ho = top + H + bottom); Ops.crop2d is dy = top, dx = left.
// Launch: 1-D grid-stride over the output, blockDim 256.
// Checked by: CudaOpsTest.padCrop against Java loops (round trip and explicit values), and the conformance suite.
#include "common.cuh"

extern "C" __global__ void window2d(const void* x, int xHalf, void* y, int yHalf, i64 planes,
                                    int H, int W, int Ho, int Wo, int dy, int dx) {
    const i64 n = planes * Ho * Wo;
    GRID_STRIDE_LOOP(i, n) {
        const i64 r = i / ((i64)Ho * Wo);
        const int rem = (int)(i - r * Ho * Wo);
        const int oy = rem / Wo, ox = rem - oy * Wo;
        const int sy = oy + dy, sx = ox + dx;
        float v = 0.f;
        if (sy >= 0 && sy < H && sx >= 0 && sx < W) v = ldx(x, xHalf, (r * H + sy) * W + sx);
        stx(y, yHalf, i, v);
    }
}
