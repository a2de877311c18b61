// pixel_shuffle.cu — torch PixelShuffle(r): x [B, C*r*r, H, W] -> y [B, C, H*r, W*r],
//   y[b, c, oy, ox] = x[b, c*r*r + (oy % r)*r + (ox % r), oy / r, ox / r].
// Launch: 1-D grid-stride over the output, blockDim 256.
// Checked by: CudaOpsTest.pixelShuffle against a Java loop, and the conformance suite.
#include "common.cuh"

extern "C" __global__ void pixel_shuffle(const void* x, int xHalf, void* y, int yHalf, i64 outPlanes,
                                         int H, int W, int r) {
    const int Ho = H * r, Wo = W * r;
    const i64 n = outPlanes * Ho * Wo;      // outPlanes = B * C
    GRID_STRIDE_LOOP(i, n) {
        const i64 bc = i / ((i64)Ho * Wo);
        const int rem = (int)(i - bc * Ho * Wo);
        const int oy = rem / Wo, ox = rem - oy * Wo;
        const int iy = oy / r, ix = ox / r;
        const int sub = (oy - iy * r) * r + (ox - ix * r);
        const i64 inPlane = bc * r * r + sub;   // (b*C + c)*r*r + sub == b*(C*r*r) + c*r*r + sub
        stx(y, yHalf, i, ldx(x, xHalf, (inPlane * H + iy) * W + ix));
    }
}
