// attention_generic.cu — multi-head scaled dot-product attention without the N x N score matrix, for every
// head width up to 512 and both dtypes (the float32 path of the backend, and the FP16 fallback for head widths
// the tensor-core kernel attention_flash.cu does not take):
//   q [B, Nq, *] (row pitch ldq), k [B, Nk, *] (ldk), v [B, Nk, *] (ldv); head h uses columns [h*D, (h+1)*D);
//   out[b, i, h*D + d] = sum_j softmax_j(scale * q_i . k_j) v[j, d] over the visible keys j
//   (visible: j < Nk, and j <= i when causal, and keep[b*Nk + j] != 0 when keep is given).
//   A query that sees no key at all gets zeros (documented in CudaOps; AttentionMask never produces one for
//   CLIP, where key 0 — BOS — is always kept).
// Online softmax in float32 (running max m, running sum l, rescaled accumulator), accurate expf.
//
// Launch: gridDim = (ceil(Nq / 16), H, B), blockDim 128 (4 warps x 4 query rows each),
//   dynamic shared memory = (16*D + 32*(D|1) + 32*D) * 4 bytes (the host raises the limit above 48 KB).
//   Keys are staged 32 at a time in shared memory as float32; lane j of a warp scores key j (K row pitch D|1 is
//   odd, so the 32 lanes hit 32 banks), then the warp accumulates p_j * v_j with lane d owning output columns
//   d, d+32, ... (NT = ceil(D/32) registers per row, NT a template parameter: one instantiation per NT).
// Checked by: CudaOpsTest.attention* (double-precision Java softmax reference: head widths 3, 8, 16, 40, 64,
//   80, 160, causal and padding masks, Nq != Nk) and the conformance suite (CpuOps.attention).
#include "common.cuh"

#define GQB 16
#define GKT 32

template <typename T, int NT>
__device__ __forceinline__ void attention_generic_impl(const T* __restrict__ q, const T* __restrict__ k,
                                                       const T* __restrict__ v, T* __restrict__ out,
                                                       int Nq, int Nk, int D, int ldq, int ldk, int ldv, int ldo,
                                                       const int* __restrict__ keep, int causal, float scale) {
    extern __shared__ float smem[];
    const int Dk = D | 1;
    float* qs = smem;                  // [GQB][D]
    float* ks = qs + GQB * D;          // [GKT][Dk]
    float* vs = ks + GKT * Dk;         // [GKT][D]

    const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * GQB;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

    for (int e = tid; e < GQB * D; e += blockDim.x) {
        const int r = e / D, d = e - r * D;
        const int qi = q0 + r;
        qs[e] = qi < Nq ? to_float(q[((i64)b * Nq + qi) * ldq + (i64)h * D + d]) : 0.f;
    }

    float m[4], l[4], acc[4][NT];
#pragma unroll
    for (int rr = 0; rr < 4; rr++) {
        m[rr] = neg_inf();
        l[rr] = 0.f;
#pragma unroll
        for (int t = 0; t < NT; t++) acc[rr][t] = 0.f;
    }

    const int kEnd = causal ? (Nk < q0 + GQB ? Nk : q0 + GQB) : Nk;
    for (int k0 = 0; k0 < kEnd; k0 += GKT) {
        __syncthreads();   // the previous tile is consumed (and, the first time, the Q tile is stored)
        for (int e = tid; e < GKT * D; e += blockDim.x) {
            const int j = e / D, d = e - j * D;
            const int kj = k0 + j;
            float kv = 0.f, vv = 0.f;
            // a padding key's values stay zero: its weight is exactly 0 and 0 * inf (an FP16 overflow) is NaN
            if (kj < Nk && (keep == nullptr || keep[(i64)b * Nk + kj] != 0)) {
                kv = to_float(k[((i64)b * Nk + kj) * ldk + (i64)h * D + d]);
                vv = to_float(v[((i64)b * Nk + kj) * ldv + (i64)h * D + d]);
            }
            ks[j * Dk + d] = kv;
            vs[j * D + d] = vv;
        }
        __syncthreads();

        const int kj = k0 + lane;
        const bool keyOk = kj < Nk && (keep == nullptr || keep[(i64)b * Nk + kj] != 0);
#pragma unroll
        for (int rr = 0; rr < 4; rr++) {
            const int r = warp * 4 + rr;
            const int qi = q0 + r;
            const float* qr = qs + r * D;
            const float* kr = ks + lane * Dk;
            float s = 0.f;
            for (int d = 0; d < D; d++) s += qr[d] * kr[d];
            const bool vis = keyOk && (!causal || kj <= qi);
            s = vis ? s * scale : neg_inf();
            const float mNew = fmaxf(m[rr], warp_max(s));
            const float mUse = mNew == neg_inf() ? 0.f : mNew;   // nothing visible yet: keep p = corr = 0
            const float p = expf(s - mUse);
            const float corr = expf(m[rr] - mUse);
            l[rr] = l[rr] * corr + warp_sum(p);
            m[rr] = mNew;
#pragma unroll
            for (int t = 0; t < NT; t++) acc[rr][t] *= corr;
            for (int j = 0; j < GKT; j++) {
                const float pj = __shfl_sync(FULL_MASK, p, j);
                const float* vr = vs + j * D;
#pragma unroll
                for (int t = 0; t < NT; t++) {
                    const int d = lane + 32 * t;
                    if (d < D) acc[rr][t] += pj * vr[d];
                }
            }
        }
    }

#pragma unroll
    for (int rr = 0; rr < 4; rr++) {
        const int qi = q0 + warp * 4 + rr;
        if (qi >= Nq) continue;
        const float inv = l[rr] > 0.f ? 1.0f / l[rr] : 0.f;
        T* orow = out + ((i64)b * Nq + qi) * ldo + (i64)h * D;
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const int d = lane + 32 * t;
            if (d < D) orow[d] = from_float<T>(acc[rr][t] * inv);
        }
    }
}

#define ATTENTION_GENERIC(NAME, T, NT)                                                                          \
    extern "C" __global__ void __launch_bounds__(128) NAME(const T* q, const T* k, const T* v, T* out,          \
            int Nq, int Nk, int D, int ldq, int ldk, int ldv, int ldo, const int* keep, int causal, float scale) { \
        attention_generic_impl<T, NT>(q, k, v, out, Nq, Nk, D, ldq, ldk, ldv, ldo, keep, causal, scale);     \
    }

ATTENTION_GENERIC(attention_generic_f32_nt1, float, 1)
ATTENTION_GENERIC(attention_generic_f32_nt2, float, 2)
ATTENTION_GENERIC(attention_generic_f32_nt3, float, 3)
ATTENTION_GENERIC(attention_generic_f32_nt4, float, 4)
ATTENTION_GENERIC(attention_generic_f32_nt5, float, 5)
ATTENTION_GENERIC(attention_generic_f32_nt6, float, 6)
ATTENTION_GENERIC(attention_generic_f32_nt7, float, 7)
ATTENTION_GENERIC(attention_generic_f32_nt8, float, 8)
ATTENTION_GENERIC(attention_generic_f32_nt9, float, 9)
ATTENTION_GENERIC(attention_generic_f32_nt10, float, 10)
ATTENTION_GENERIC(attention_generic_f32_nt11, float, 11)
ATTENTION_GENERIC(attention_generic_f32_nt12, float, 12)
ATTENTION_GENERIC(attention_generic_f32_nt13, float, 13)
ATTENTION_GENERIC(attention_generic_f32_nt14, float, 14)
ATTENTION_GENERIC(attention_generic_f32_nt15, float, 15)
ATTENTION_GENERIC(attention_generic_f32_nt16, float, 16)
ATTENTION_GENERIC(attention_generic_f16_nt1, half_t, 1)
ATTENTION_GENERIC(attention_generic_f16_nt2, half_t, 2)
ATTENTION_GENERIC(attention_generic_f16_nt3, half_t, 3)
ATTENTION_GENERIC(attention_generic_f16_nt4, half_t, 4)
ATTENTION_GENERIC(attention_generic_f16_nt5, half_t, 5)
ATTENTION_GENERIC(attention_generic_f16_nt6, half_t, 6)
ATTENTION_GENERIC(attention_generic_f16_nt7, half_t, 7)
ATTENTION_GENERIC(attention_generic_f16_nt8, half_t, 8)
ATTENTION_GENERIC(attention_generic_f16_nt9, half_t, 9)
ATTENTION_GENERIC(attention_generic_f16_nt10, half_t, 10)
ATTENTION_GENERIC(attention_generic_f16_nt11, half_t, 11)
ATTENTION_GENERIC(attention_generic_f16_nt12, half_t, 12)
ATTENTION_GENERIC(attention_generic_f16_nt13, half_t, 13)
ATTENTION_GENERIC(attention_generic_f16_nt14, half_t, 14)
ATTENTION_GENERIC(attention_generic_f16_nt15, half_t, 15)
ATTENTION_GENERIC(attention_generic_f16_nt16, half_t, 16)
