// conv2d_depthwise.cu — depthwise 2-D convolution (groups = Cin = Cout, one kh×kw filter per channel), float32
// accumulation, any dtype (flags), any stride / padding, with an optional input bias:
//   y[b, c, oy, ox] = bias[c] + sum_{ky, kx} (x[b, c, oy*s - p + ky, ox*s - p + kx] + inBias[c]) * w[c, 0, ky, kx],
//   zero padding outside x (the input bias is not added to padding). NAFNet's 3×3 depthwise convolution (in every
//   block, at up to full resolution), with the preceding 1x1 convolution's bias folded in (Ops.conv2dWithInputBias).
// Floor for a 3×3 filter on 64 FP16 channels of 512²: 18 FLOP per output, 2 bytes read + 2 written per element,
// 33.5 MB each way, about 20 µs at 3.35 TB/s; compute is negligible. The generic direct kernel
// spends a 64-bit division chain per output and re-reads every input kh·kw times from L1 (130 µs measured on the
// H200 through cuDNN's NCHW path).
// Each block stages one input tile (with its halo, converted to float32) in shared memory and computes a
// TW×TH output tile: every input element is read from global memory about once (plus the halo), coalesced
// along the tile's rows. Filter weights (at most MAXK² of them) are staged in shared memory too.
// Launch: grid (ceil(Wo / 32), ceil(Ho / 32), B*C), block (32, 8): each thread computes 4 outputs of a column,
// rows ty, ty+8, ty+16, ty+24 of the tile. Dynamic shared memory: ((32-1)*s + kw) * ((32-1)*s + kh) floats;
// kh, kw <= 7 (the caller checks).
// Checked by: KernelEmulationTest.depthwiseConvolution (host emulation, in CI) and, on a GPU,
// CudaOps*UnverifiedTest.conv2d* (depthwise cases against a double-precision Java loop) and the conformance
// suites with every Features path on (CpuOps.conv2d with groups = channels).
#include "common.cuh"

#define DW_TILE 32
#define DW_MAXK 7

extern "C" __global__ void conv2d_depthwise(const void* x, int xHalf, const void* inBias, int inBiasHalf, int hasInBias,
                                            const void* w, int wHalf, const void* bias, int biasHalf, int hasBias,
                                            void* y, int yHalf, int C, int H, int W, int kh, int kw, int stride, int pad,
                                            int Ho, int Wo) {
    extern __shared__ float tile[];
    __shared__ float wk[DW_MAXK * DW_MAXK];
    const int bc = blockIdx.z;                 // b*C + c
    const int c = bc % C;
    const int ox0 = blockIdx.x * DW_TILE, oy0 = blockIdx.y * DW_TILE;
    const int tw = (DW_TILE - 1) * stride + kw, th = (DW_TILE - 1) * stride + kh;   // input tile with halo
    const int ix0 = ox0 * stride - pad, iy0 = oy0 * stride - pad;
    const int tid = threadIdx.y * blockDim.x + threadIdx.x, nthreads = blockDim.x * blockDim.y;
    const i64 xPlane = (i64)bc * H * W;
    for (int i = tid; i < kh * kw; i += nthreads) wk[i] = ldx(w, wHalf, (i64)c * kh * kw + i);
    const float ib = hasInBias ? ldx(inBias, inBiasHalf, c) : 0.f;
    for (int i = tid; i < tw * th; i += nthreads) {
        const int ty = i / tw, tx = i - ty * tw;
        const int iy = iy0 + ty, ix = ix0 + tx;
        tile[i] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? ldx(x, xHalf, xPlane + (i64)iy * W + ix) + ib : 0.f;
    }
    __syncthreads();
    const float b = hasBias ? ldx(bias, biasHalf, c) : 0.f;
    const int ox = ox0 + threadIdx.x;
    if (ox >= Wo) return;
    const i64 yPlane = (i64)bc * Ho * Wo;
    for (int r = threadIdx.y; r < DW_TILE; r += blockDim.y) {
        const int oy = oy0 + r;
        if (oy >= Ho) break;
        const float* base = tile + r * stride * tw + threadIdx.x * stride;
        float acc = b;
        for (int ky = 0; ky < kh; ky++) {
            const float* rowp = base + ky * tw;
            for (int kx = 0; kx < kw; kx++) acc += rowp[kx] * wk[ky * kw + kx];
        }
        stx(y, yHalf, yPlane + (i64)oy * Wo + ox, acc);
    }
}
