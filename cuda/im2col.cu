// im2col.cu — the column matrix of an FP16 2-D convolution (groups 1), so that the convolution becomes one matrix
// product (CudaOps.conv2d's im2col path, then Matmul.gemm):
//   col[z][r, j] = x[z][ci, oy*stride - pad + ky, ox*stride - pad + kx]   (0 where that falls in the padding)
//   with r = (ci*kh + ky)*kw + kx          (the row order of the weight [Cout, Cin, kh, kw] flattened to [Cout, K])
//        p = p0 + j, oy = p / Wo, ox = p % Wo   (p: output pixel of the image, j in [0, np))
//   col row-major [K = Cin*kh*kw rows][ldc columns], image z of the chunk at col + z*K*ldc, x image z at
//   x + z*Cin*H*W (x points at the chunk's first image). Columns np..ldc-1 are left untouched.
// Launch: gridDim = (ceil(np / (8 * blockDim.x)), min(Cin, 65535), images of the chunk), blockDim.x a multiple of
//   32 up to 256. Block (bx, by) owns 8*blockDim.x consecutive pixels and input channel ci = by (then by +
//   gridDim.y, ...), i.e. kh*kw rows that read the same input plane (L1/L2 reuse). Each thread owns 8
//   consecutive pixels: their input coordinates are computed once, then per row it gathers 8 values and
//   writes them with one 16-byte store when all 8 are inside [0, np) and ldc % 8 == 0 (the host makes ldc a
//   multiple of 128), so a warp writes 512 contiguous bytes of a row; the last partial group stores singly.
// Checked by: Im2colProductsTest on the host (this source run by KernelEmulator, bit-exact against the column
//   matrix's definition, then the emulated products against the cpu backend's convolution) and, on a GPU,
//   CudaConvIm2colTest (conv2d with the im2col path forced: several chunks, batch 2, stride 2, kernels
//   1x1/2x2/3x3, against the cpu backend at rel-L2 2e-3); ConvAutotune times it against cuDNN per shape.
#include "common.cuh"

struct alignas(16) im2col_u32x4 { unsigned x, y, z, w; };

extern "C" __global__ void __launch_bounds__(256) im2col_f16(
        const half_t* __restrict__ x, half_t* __restrict__ col, int Cin, int H, int W, int kh, int kw, int stride,
        int pad, int Wo, int p0, int np, int ldc) {
    const int khw = kh * kw;
    const i64 K = (i64)Cin * khw;
    const half_t* xi = x + (i64)blockIdx.z * Cin * H * W;
    half_t* ci0 = col + (i64)blockIdx.z * K * ldc;

    const int j0 = (blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (j0 >= np) return;
    const int n = np - j0 < 8 ? np - j0 : 8;   // pixels of this thread (no min(): NVRTC gets no headers)

    // top-left input corner of each of the thread's pixels (one division, then walk along the row)
    int iy0[8], ix0[8];
    {
        int p = p0 + j0;
        int oy = p / Wo, ox = p - oy * Wo;
#pragma unroll
        for (int e = 0; e < 8; e++) {
            iy0[e] = oy * stride - pad;
            ix0[e] = ox * stride - pad;
            if (++ox == Wo) { ox = 0; oy++; }
        }
    }
    const bool vector = n == 8 && (ldc & 7) == 0;

    for (int ci = blockIdx.y; ci < Cin; ci += gridDim.y) {
        const half_t* plane = xi + (i64)ci * H * W;
        half_t* rowBase = ci0 + (i64)ci * khw * ldc + j0;
        for (int ky = 0; ky < kh; ky++) {
            for (int kx = 0; kx < kw; kx++) {
                half_t v[8];
#pragma unroll
                for (int e = 0; e < 8; e++) {
                    int iy = iy0[e] + ky, ix = ix0[e] + kx;
                    bool inside = e < n && (unsigned)iy < (unsigned)H && (unsigned)ix < (unsigned)W;
                    v[e] = inside ? plane[(i64)iy * W + ix] : (half_t)0;
                }
                half_t* out = rowBase + (i64)(ky * kw + kx) * ldc;
                if (vector) {
                    im2col_u32x4 pk;
                    pk.x = (unsigned)v[0] | ((unsigned)v[1] << 16);
                    pk.y = (unsigned)v[2] | ((unsigned)v[3] << 16);
                    pk.z = (unsigned)v[4] | ((unsigned)v[5] << 16);
                    pk.w = (unsigned)v[6] | ((unsigned)v[7] << 16);
                    *(im2col_u32x4*)out = pk;
                } else {
#pragma unroll
                    for (int e = 0; e < 8; e++) if (e < n) out[e] = v[e];
                }
            }
        }
    }
}
