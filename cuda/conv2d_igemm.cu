// conv2d_igemm.cu — FP16 2-D convolution as an implicit GEMM on the tensor cores (mma.sync.m16n8k16, FP32
// accumulation), the alternative to cuDNN that CudaBench compares against it:
//   per group g (gridDim.z): C[m, n] = sum_k A[m, k] * Bm[k, n] with
//     M = Cout/G (output channels), N = B*Ho*Wo (output pixels), K = (Cin/G)*kh*kw,
//     A = the weights [Cout, Cin/G, kh, kw] read as rows of K (PyTorch layout, contiguous),
//     Bm[k, n] = x[b, g*Cin/G + ci, oy*s - p + ky, ox*s - p + kx] with k = (ci*kh + ky)*kw + kx (im2col on
//     the fly, zero outside the image),
//   y[b, g*Cout/G + m, oy, ox] = C[m, n] + bias.
// Launch: gridDim = (ceil(N / 128), ceil(M / 64), G), blockDim 256 = 8 warps as 2 (M) x 4 (N), each warp a
//   32 x 32 tile (2 x 4 mma tiles). K is walked 32 at a time through shared memory: As [64][32+8] (row-major
//   m x k: the A fragments are 32-bit loads), Bs [32][128+8] (k x n: the B fragments come from
//   ldmatrix.trans). Row pitches of 80 and 272 bytes keep the fragment loads free of bank conflicts.
//   Single-buffered (load, sync, compute, sync): simple first, to be pipelined if the benchmark says so.
// Register layouts: see attention_flash.cu.
// Checked by: CudaOpsTest.conv2d* in FP16 with the backend forced to this path (against a double-precision
//   Java loop, rel-L2 2e-3), and CudaBench on the device (time against cuDNN).
#include "common.cuh"

#define CBM 64
#define CBN 128
#define CBK 32
#define APITCH (CBK + 8)
#define BPITCH (CBN + 8)

// u32x4 (16 bytes), smem_addr and mma_16816 come from common.cuh

extern "C" __global__ void __launch_bounds__(256) conv2d_igemm_f16(
        const half_t* __restrict__ x, const half_t* __restrict__ w, const half_t* __restrict__ bias,
        half_t* __restrict__ y, int B, int Cin, int H, int W, int Cout, int kh, int kw, int stride, int pad,
        int Ho, int Wo, int groups, int hasBias) {
    __shared__ u32x4 AsRaw[CBM * APITCH / 8];   // 16-byte aligned by the element type (ldmatrix needs it)
    __shared__ u32x4 BsRaw[CBK * BPITCH / 8];
    half_t* As = (half_t*)AsRaw;
    half_t* Bs = (half_t*)BsRaw;

    const int cinG = Cin / groups, coutG = Cout / groups;
    const int grp = blockIdx.z;
    const int M = coutG;
    const int khw = kh * kw;
    const int K = cinG * khw;
    const int HoWo = Ho * Wo;
    const int N = B * HoWo;          // < 2^31, checked on the host
    const int m0 = blockIdx.y * CBM, n0 = blockIdx.x * CBN;

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int g = lane >> 2, t = lane & 3;
    const int wm = (warp >> 2) * 32, wn = (warp & 3) * 32;

    // the output pixel whose im2col column this thread gathers (fixed for the whole K loop)
    const int nn = tid & (CBN - 1);
    const int kkFirst = tid >> 7;    // 0 or 1: this thread fills rows kkFirst, kkFirst + 2, ... of Bs
    const int n = n0 + nn;
    const bool nOk = n < N;
    int pb = 0, iy0 = 0, ix0 = 0;
    if (nOk) {
        pb = n / HoWo;
        const int p = n - pb * HoWo;
        const int oy = p / Wo, ox = p - oy * Wo;
        iy0 = oy * stride - pad;
        ix0 = ox * stride - pad;
    }
    const half_t* xb = x + ((i64)pb * Cin + (i64)grp * cinG) * H * W;
    const half_t* wg = w + (i64)grp * coutG * K;

    float acc[2][4][4];
#pragma unroll
    for (int a = 0; a < 2; a++)
#pragma unroll
        for (int b = 0; b < 4; b++) acc[a][b][0] = acc[a][b][1] = acc[a][b][2] = acc[a][b][3] = 0.f;

    for (int k0 = 0; k0 < K; k0 += CBK) {
        __syncthreads();   // the previous tiles are consumed
        for (int e = tid; e < CBM * CBK; e += blockDim.x) {
            const int r = e / CBK, c = e - r * CBK;
            const int m = m0 + r, kk = k0 + c;
            As[r * APITCH + c] = (m < M && kk < K) ? wg[(i64)m * K + kk] : (half_t)0;
        }
#pragma unroll 4
        for (int kk = kkFirst; kk < CBK; kk += 2) {
            const int k = k0 + kk;
            half_t val = 0;
            if (nOk && k < K) {
                const int ci = k / khw;
                const int rem = k - ci * khw;
                const int ky = rem / kw, kx = rem - ky * kw;
                const int iy = iy0 + ky, ix = ix0 + kx;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W) val = xb[((i64)ci * H + iy) * W + ix];
            }
            Bs[kk * BPITCH + nn] = val;
        }
        __syncthreads();

#pragma unroll
        for (int kc = 0; kc < CBK; kc += 16) {
            unsigned af[2][4];
#pragma unroll
            for (int mt = 0; mt < 2; mt++) {
                const half_t* arow = As + (wm + mt * 16 + g) * APITCH + kc + 2 * t;
                af[mt][0] = *(const unsigned*)(arow);
                af[mt][1] = *(const unsigned*)(arow + 8 * APITCH);
                af[mt][2] = *(const unsigned*)(arow + 8);
                af[mt][3] = *(const unsigned*)(arow + 8 * APITCH + 8);
            }
#pragma unroll
            for (int np = 0; np < 2; np++) {
                // lane l addresses row (l & 7) of 8x8 matrix l >> 3: k rows kc + 0..7 / 8..15 of column tile
                // wn + 16 np (matrices 0, 1) and of column tile wn + 16 np + 8 (matrices 2, 3)
                const half_t* bp = Bs + (kc + (lane & 7) + ((lane >> 3) & 1) * 8) * BPITCH + wn + np * 16 + (lane >> 4) * 8;
                unsigned b0, b1, b2, b3;
                asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                             : "=r"(b0), "=r"(b1), "=r"(b2), "=r"(b3)
                             : "r"(smem_addr(bp))
                             : "memory");
#pragma unroll
                for (int mt = 0; mt < 2; mt++) {
                    mma_16816(acc[mt][2 * np], af[mt], b0, b1);
                    mma_16816(acc[mt][2 * np + 1], af[mt], b2, b3);
                }
            }
        }
    }

#pragma unroll
    for (int mt = 0; mt < 2; mt++) {
#pragma unroll
        for (int nt = 0; nt < 4; nt++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int m = m0 + wm + mt * 16 + g + (e >> 1) * 8;
                const int nIdx = n0 + wn + nt * 8 + 2 * t + (e & 1);
                if (m < M && nIdx < N) {
                    const int co = grp * coutG + m;
                    const int b = nIdx / HoWo;
                    const int p = nIdx - b * HoWo;
                    float v = acc[mt][nt][e];
                    if (hasBias) v += h2f(bias[co]);
                    y[((i64)b * Cout + co) * HoWo + p] = f2h(v);
                }
            }
        }
    }
}
