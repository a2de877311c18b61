// softmax_rows.cu — row softmax of float32 scores into probabilities: s [R, N] (float32, already scaled) ->
//   p[r, j] = exp(s[r, j] - max_r) / sum_j exp(s[r, j] - max_r), p in float32 or FP16 (pHalf).
// The middle step of attention computed as two cuBLASLt products (CudaOps.attention with the attentionGemm
// feature: S = scale·Q·Kᵀ into float32 scratch, this kernel, then O = P·V), used for heads wider than the flash
// kernel's 160 (the SD VAE's single 512-wide head). Scores stay float32 so FP16 storage rounds only the
// probabilities (relative 2^-11), never the exponent's argument.
// Also Ops.softmax (BIQA's probabilities, where a removed class has a -inf logit: its probability is exactly 0; a
// row of only -inf gives NaN, as torch does).
// One pass keeps a running (max, sum) per thread (sum rescaled when the max rises), merged across the block in a
// fixed order (deterministic); a second pass writes. Bytes: 2 reads of S + 1 write of P per element (the re-read
// of a row comes from L2: rows are N·4 bytes).
// Launch: one block per row, gridDim.x = R, blockDim 256 (a multiple of 32, at most 1024).
// Checked by: CudaAttentionGemmTest (the attention result against the cpu backend with the path forced at
// several head widths, masks excluded), CudaOpsConformanceUnverifiedTest, and without a GPU KernelEmulationTest and
// GraphKernelsEmulationTest (Ops.softmax as CudaOps runs it, -inf scores included).
#include "common.cuh"

__device__ __forceinline__ void softmax_merge(float& m, float& s, float mb, float sb) {
    const float mt = fmaxf(m, mb);
    if (mt == neg_inf()) return;   // both empty
    s = s * expf(m - mt) + sb * expf(mb - mt);
    m = mt;
}

extern "C" __global__ void softmax_rows(const float* s, void* p, int pHalf, int n) {
    __shared__ float wm[32], ws[32];
    const float* row = s + (i64)blockIdx.x * n;
    float m = neg_inf(), sum = 0.f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float v = row[j];
        if (v > m) {
            sum = sum * expf(m - v) + 1.f;
            m = v;
        } else if (v > neg_inf()) {   // a -inf score adds nothing (and -inf - -inf would be NaN)
            sum += expf(v - m);
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float mb = __shfl_xor_sync(FULL_MASK, m, o);
        const float sb = __shfl_xor_sync(FULL_MASK, sum, o);
        softmax_merge(m, sum, mb, sb);
    }
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    if (lane == 0) {
        wm[warp] = m;
        ws[warp] = sum;
    }
    __syncthreads();
    // every thread merges the warp totals in the same order: the block's (max, sum) without another barrier
    float bm = wm[0], bs = ws[0];
    for (int w = 1; w < warps; w++) softmax_merge(bm, bs, wm[w], ws[w]);
    const float inv = 1.f / bs;
    const i64 base = (i64)blockIdx.x * n;
    for (int j = threadIdx.x; j < n; j += blockDim.x) stx(p, pHalf, base + j, expf(row[j] - bm) * inv);
}
