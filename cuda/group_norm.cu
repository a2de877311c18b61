// group_norm.cu — fused GroupNorm (+ optional SiLU) over x [B, C, S...] (S = product of the spatial dims):
//   for each (b, g): mean and biased variance over the contiguous Cg*S elements of channels
//   [g*Cg, (g+1)*Cg) (Cg = C / G); y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c], then
//   y * sigmoid(y) when silu != 0. Statistics in float32 whatever the storage dtype.
//
// Launch: two kernels, one operation (so that a group of a million elements uses the whole GPU, not one SM):
//   group_norm_stats: gridDim = (splits, B*G), blockDim 256. Block (s, bg) runs Welford over its slice
//     [s*chunk, min(L, (s+1)*chunk)) of group bg (L = Cg*S, chunk = ceil(L / splits)), merges the threads'
//     (count, mean, M2) with Chan's formula and writes them to partial[(bg*splits + s)*3 + {0,1,2}].
//   group_norm_apply: gridDim = (ceil(L / APPLY_CHUNK), B*G), blockDim 256. Warp 0 merges the group's
//     `splits` partials into mean / rstd (shared memory), then the block normalises its APPLY_CHUNK
//     elements of the group.
// The partial buffer (B*G*splits*3 floats) lives in the scratch arena; the two launches are stream-ordered.
// Checked by: CudaOpsTest.groupNorm (Java two-pass double-precision reference, with and without SiLU, with a
// large group that forces many splits) and the conformance suite (CpuOps.groupNorm).
#include "common.cuh"

#define APPLY_CHUNK 4096

extern "C" __global__ void group_norm_stats(const void* x, int xHalf, float* partial, i64 groupLen, int splits) {
    __shared__ float sn[32], smean[32], sm2[32];
    const int s = blockIdx.x;
    const i64 bg = blockIdx.y;
    const i64 chunk = (groupLen + splits - 1) / splits;
    const i64 begin = (i64)s * chunk;
    i64 end = begin + chunk;
    if (end > groupLen) end = groupLen;
    const i64 base = bg * groupLen;

    float n = 0.f, mean = 0.f, m2 = 0.f;
    for (i64 i = begin + threadIdx.x; i < end; i += blockDim.x) {
        float v = ldx(x, xHalf, base + i);
        n += 1.f;
        float d = v - mean;
        mean += d / n;
        m2 += d * (v - mean);
    }
    warp_chan_merge(n, mean, m2);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) { sn[warp] = n; smean[warp] = mean; sm2[warp] = m2; }
    __syncthreads();
    if (warp == 0) {
        const int warps = (blockDim.x + 31) >> 5;
        float tn = 0.f, tmean = 0.f, tm2 = 0.f;
        if (lane < warps) { tn = sn[lane]; tmean = smean[lane]; tm2 = sm2[lane]; }
        warp_chan_merge(tn, tmean, tm2);
        if (lane == 0) {
            float* out = partial + (bg * splits + s) * 3;
            out[0] = tn; out[1] = tmean; out[2] = tm2;
        }
    }
}

extern "C" __global__ void group_norm_apply(const void* x, int xHalf, const float* partial, int splits,
                                            const void* gamma, int gammaHalf, const void* beta, int betaHalf,
                                            void* y, int yHalf, i64 groupLen, i64 planeSize, int channelsPerGroup,
                                            int groups, float eps, int silu) {
    __shared__ float sMean, sRstd;
    const i64 bg = blockIdx.y;
    if (threadIdx.x < 32) {
        const int lane = threadIdx.x;
        float n = 0.f, mean = 0.f, m2 = 0.f;
        for (int j = lane; j < splits; j += 32) {
            const float* p = partial + (bg * splits + j) * 3;
            chan_merge(n, mean, m2, p[0], p[1], p[2]);
        }
        warp_chan_merge(n, mean, m2);
        if (lane == 0) {
            float var = m2 / n;                 // biased variance, like torch.nn.GroupNorm
            sMean = mean;
            sRstd = 1.0f / sqrtf(var + eps);
        }
    }
    __syncthreads();
    const float mean = sMean, rstd = sRstd;
    const int g = (int)(bg % groups);
    const i64 base = bg * groupLen;
    const i64 begin = (i64)blockIdx.x * APPLY_CHUNK;
    i64 end = begin + APPLY_CHUNK;
    if (end > groupLen) end = groupLen;
    for (i64 i = begin + threadIdx.x; i < end; i += blockDim.x) {
        const int c = g * channelsPerGroup + (int)(i / planeSize);
        float v = (ldx(x, xHalf, base + i) - mean) * rstd * ldx(gamma, gammaHalf, c) + ldx(beta, betaHalf, c);
        if (silu) v = v / (1.0f + expf(-v));
        stx(y, yHalf, base + i, v);
    }
}
