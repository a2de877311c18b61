// upsample_nearest.cu — nearest-neighbour x2 upsampling: x [R, H, W] -> y [R, 2H, 2W] (R = B*C),
//   y[r, oy, ox] = x[r, oy / 2, ox / 2] (torch F.interpolate(scale_factor=2, mode="nearest")).
// Launch: 1-D grid-stride over the output, blockDim 256 (neighbouring threads write neighbouring pixels).
// Checked by: CudaOpsTest.upsampleNearest2x against a Java loop, and the conformance suite.
#include "common.cuh"

extern "C" __global__ void upsample_nearest2x(const void* x, int xHalf, void* y, int yHalf, i64 planes, int H, int W) {
    const int Ho = 2 * H, Wo = 2 * W;
    const i64 n = planes * Ho * Wo;
    GRID_STRIDE_LOOP(i, n) {
        const i64 r = i / ((i64)Ho * Wo);
        const int rem = (int)(i - r * Ho * Wo);
        const int oy = rem / Wo, ox = rem - oy * Wo;
        stx(y, yHalf, i, ldx(x, xHalf, (r * H + (oy >> 1)) * W + (ox >> 1)));
    }
}
