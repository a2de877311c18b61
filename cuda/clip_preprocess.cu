// clip_preprocess.cu — packs the CLIP vision input from a restoration image, as AutoDIR's CLIPEmbedder feeds
// CLIPImageProcessor(do_resize=False): x [B, 3, H, W] in [-1, 1] -> pixel_values [B, 3, S, S],
//   v = ((x + 1) * 255) / 2            (the official code, float32)
//   center crop S x S at (top, left), chosen on the host as HF's center_crop does: (H - S) / 2 where H >= S, else
//   -((S - H) / 2) (the image zero-padded to S with itself at (S - H) / 2); a source pixel outside the image reads 0
//   (HF pads a too-small image with zeros before rescaling)
//   p = (v * float32(1/255) - mean[c]) / std[c]   (HF rescale, then normalize, float32)
// Launch: 1-D grid-stride over B*3*S*S, blockDim 256. Output dtype by flag (the backend precision).
// Checked by: GraphKernelsEmulationTest (host emulation against the cpu backend, odd paddings included),
// CudaOpsTest.clipPixelValues against a Java float32 loop, and on the device against the golden case clip_assessment.
#include "common.cuh"

extern "C" __global__ void clip_preprocess(const void* x, int xHalf, void* y, int yHalf, int batch, int H, int W,
                                           int S, int top, int left, float m0, float m1, float m2,
                                           float s0, float s1, float s2) {
    const i64 n = (i64)batch * 3 * S * S;
    GRID_STRIDE_LOOP(i, n) {
        const i64 plane = i / ((i64)S * S);            // b*3 + c
        const int rem = (int)(i - plane * S * S);
        const int oy = rem / S, ox = rem - oy * S;
        const int c = (int)(plane % 3);
        const int sy = oy + top, sx = ox + left;
        float v = 0.f;
        if (sy >= 0 && sy < H && sx >= 0 && sx < W) {
            const float xv = ldx(x, xHalf, (plane * H + sy) * W + sx);
            v = __fdiv_rn(__fmul_rn(__fadd_rn(xv, 1.0f), 255.0f), 2.0f);
        }
        const float mean = c == 0 ? m0 : (c == 1 ? m1 : m2);
        const float sd = c == 0 ? s0 : (c == 1 ? s1 : s2);
        stx(y, yHalf, i, __fdiv_rn(__fsub_rn(__fmul_rn(v, 0.003921568859368563f), mean), sd));
    }
}
