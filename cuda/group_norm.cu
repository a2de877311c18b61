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
//
// group_norm_stats_fast / group_norm_apply_fast (the fastKernels feature; x and y of one dtype, the plane a
// multiple of VEC = 16 bytes / element size, x and y 16-byte aligned — the caller checks): the same two launches
// with 16-byte vector accesses and no 64-bit division per element. Stats: each block sums x - x[group start] and
// its square over its slice (one shift for the whole group keeps the float32 sums exact enough: the variance is
// the centred sum of squares minus n·(mean of the shifted values)², both of the size of n·var when the first
// element is within a few deviations of the mean) and writes (n, mean, M2) for the same Chan merge as above.
// Apply: one channel lookup (32-bit division) per vector. Bytes: x read twice, y written once (the floor); the
// generic pair above divides in 64 bits per element and loads 2 bytes at a time.
// Checked by: KernelEmulationTest.groupNormFast (host emulation, against the double-precision reference) and,
// on a GPU, CudaOps*UnverifiedTest.groupNorm and the conformance suites with every Features path on.
#include "common.cuh"

#define APPLY_CHUNK 4096

// Warp 0 merges group bg's `splits` partial (count, mean, M2) triples into its mean and 1 / sqrt(biased variance + eps)
// (biased, like torch.nn.GroupNorm) in shared memory; every thread of the block waits for them.
__device__ __forceinline__ void group_stats(const float* partial, i64 bg, int splits, float eps, float& sMean, float& sRstd) {
    if (threadIdx.x < 32) {
        const int lane = threadIdx.x;
        float n = 0.f, mean = 0.f, m2 = 0.f;
        for (int j = lane; j < splits; j += 32) {
            const float* p = partial + (bg * splits + j) * 3;
            chan_merge(n, mean, m2, p[0], p[1], p[2]);
        }
        warp_chan_merge(n, mean, m2);
        if (lane == 0) {
            sMean = mean;
            sRstd = 1.0f / sqrtf(m2 / n + eps);
        }
    }
    __syncthreads();
}

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
    group_stats(partial, bg, splits, eps, sMean, sRstd);
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

// ---- fastKernels variants -------------------------------------------------------------------------------

template <typename T>
__device__ void gn_stats_fast(const T* x, float* partial, i64 groupLen, int splits) {
    constexpr int VEC = 16 / sizeof(T);
    __shared__ float ssum[32], ssq[32];
    const int s = blockIdx.x;
    const i64 bg = blockIdx.y;
    const T* g = x + bg * groupLen;
    const float shift = to_float(g[0]);
    const i64 nvec = groupLen / VEC;
    const i64 chunk = (nvec + splits - 1) / splits;
    const i64 begin = (i64)s * chunk;
    i64 end = begin + chunk;
    if (end > nvec) end = nvec;
    float sum = 0.f, sq = 0.f;
    for (i64 i = begin + threadIdx.x; i < end; i += blockDim.x) {
        float v[VEC];
        load_vec<T, VEC>(g + i * VEC, v);
        for (int k = 0; k < VEC; k++) {
            const float d = v[k] - shift;
            sum += d;
            sq += d * d;
        }
    }
    sum = warp_sum(sum);
    sq = warp_sum(sq);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) { ssum[warp] = sum; ssq[warp] = sq; }
    __syncthreads();
    if (warp == 0) {
        const int warps = (blockDim.x + 31) >> 5;
        float ts = lane < warps ? ssum[lane] : 0.f, tq = lane < warps ? ssq[lane] : 0.f;
        ts = warp_sum(ts);
        tq = warp_sum(tq);
        if (lane == 0) {
            const float n = end > begin ? (float)((end - begin) * VEC) : 0.f;
            float* out = partial + (bg * splits + s) * 3;
            const float m = n > 0.f ? ts / n : 0.f;
            out[0] = n;
            out[1] = n > 0.f ? shift + m : 0.f;
            out[2] = n > 0.f ? fmaxf(tq - ts * m, 0.f) : 0.f;
        }
    }
}

extern "C" __global__ void group_norm_stats_fast(const void* x, int xHalf, float* partial, i64 groupLen, int splits) {
    if (xHalf) gn_stats_fast<half_t>((const half_t*)x, partial, groupLen, splits);
    else gn_stats_fast<float>((const float*)x, partial, groupLen, splits);
}

template <typename T>
__device__ void gn_apply_fast(const T* x, const float* partial, int splits, const void* gamma, int gammaHalf,
                              const void* beta, int betaHalf, T* y, i64 groupLen, int planeSize, int channelsPerGroup,
                              int groups, float eps, int silu) {
    constexpr int VEC = 16 / sizeof(T);
    __shared__ float sMean, sRstd;
    const i64 bg = blockIdx.y;
    group_stats(partial, bg, splits, eps, sMean, sRstd);
    const float mean = sMean, rstd = sRstd;
    const int g = (int)(bg % groups);
    const i64 base = bg * groupLen;
    const int begin = blockIdx.x * APPLY_CHUNK;          // groupLen < 2^31 (the caller checks)
    int end = begin + APPLY_CHUNK;
    if ((i64)end > groupLen) end = (int)groupLen;
    for (int i = begin + threadIdx.x * VEC; i < end; i += blockDim.x * VEC) {
        const int c = g * channelsPerGroup + i / planeSize;   // a vector never straddles channels: planeSize % VEC == 0
        const float a = ldx(gamma, gammaHalf, c) * rstd;
        const float b = ldx(beta, betaHalf, c) - mean * a;
        float v[VEC];
        load_vec<T, VEC>(x + base + i, v);
        for (int k = 0; k < VEC; k++) {
            float t = v[k] * a + b;
            if (silu) t = t / (1.0f + expf(-t));
            v[k] = t;
        }
        store_vec<T, VEC>(y + base + i, v);
    }
}

extern "C" __global__ void group_norm_apply_fast(const void* x, int xHalf, const float* partial, int splits,
                                                 const void* gamma, int gammaHalf, const void* beta, int betaHalf,
                                                 void* y, i64 groupLen, int planeSize, int channelsPerGroup,
                                                 int groups, float eps, int silu) {
    if (xHalf) gn_apply_fast<half_t>((const half_t*)x, partial, splits, gamma, gammaHalf, beta, betaHalf, (half_t*)y,
                                     groupLen, planeSize, channelsPerGroup, groups, eps, silu);
    else gn_apply_fast<float>((const float*)x, partial, splits, gamma, gammaHalf, beta, betaHalf, (float*)y,
                              groupLen, planeSize, channelsPerGroup, groups, eps, silu);
}
