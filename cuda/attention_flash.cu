// attention_flash.cu — FP16 multi-head attention on the tensor cores, flash style (FlashAttention-2 loop
// order): the N x N score matrix is never stored, the softmax runs online in float32, and both products
// (Q K^T and P V) are mma.sync.m16n8k16 with FP16 inputs and FP32 accumulation.
//   q [B, Nq, *] (row pitch ldq), k, v [B, Nk, *] (ldk, ldv); head h uses columns [h*D, (h+1)*D), D <= DP;
//   out[b, i, h*D + d] = sum_j softmax_j(scale * q_i . k_j) v[j, d] over the visible keys
//   (j < Nk; j <= i when causal; keep[b*Nk + j] != 0 when keep is given). A query with no visible key gets 0.
// DP (a template parameter, a multiple of 16 up to 160) is D rounded up to 16; the padding columns are zero
// in shared memory, so they add nothing to q.k and produce output columns that are not stored. Any D works,
// e.g. 40 -> 48 (SD level 1), 80, 160, 64 (CLIP), and the odd widths of the tests (3 -> 16).
//
// Launch: gridDim = (ceil(Nq / 64), H, B), blockDim 128 = 4 warps, warp w owns query rows q0 + 16w .. +15.
//   dynamic shared memory = 3 * 64 * (DP + 8) * 2 bytes (Q, K, V tiles; rows padded by 8 halves = 16 bytes so
//   the fragment loads and ldmatrix hit distinct banks); above 48 KB (DP >= 128) the host raises the limit.
//   Per key tile of 64: S = Q K^T (16 x 64 per warp, registers), mask, running max / sum per row (the 4 lanes
//   of a quad share a row: two xor-shuffles), P packed to FP16 straight from the accumulator layout into the
//   A operand, V fragments by ldmatrix.trans, O (16 x DP per warp) rescaled and accumulated in registers.
//   vec != 0 (D % 8 == 0 and every pitch % 8 == 0) loads global memory 16 bytes at a time.
//
// Register layouts (PTX ISA, mma.m16n8k16 .f16 / .f32; g = lane / 4, t = lane % 4):
//   A (16x16, row): a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..), a3 = (g+8, 2t+8..)
//   B (16x8, col):  b0 = (k 2t..2t+1, n g), b1 = (k 2t+8..2t+9, n g)
//   C (16x8 f32):   c0, c1 = (g, 2t), (g, 2t+1); c2, c3 = (g+8, 2t), (g+8, 2t+1)
//   The low 16 bits of a packed register hold the element with the lower column (k) index.
// Checked by: CudaOpsTest.attention* in FP16 (against the double-precision Java reference, rel-L2 2e-3), and
//   the conformance suite's FP16 subclass.
#include "common.cuh"

#define FBQ 64
#define FBK 64

// u32x4 (16 bytes), smem_addr and mma_16816 come from common.cuh

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3,
                                                  const half_t* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(smem_addr(p))
                 : "memory");
}

// rows [row0, row0 + 64) x columns [0, DP) of one head into shared memory (pitch DP + 8); zeros past N / D and,
// when keep is given, for the rows of padding keys (so a masked key's values — even inf in FP16 — never meet
// the zero weight in the product: 0 * inf would be NaN)
template <int DP>
__device__ __forceinline__ void load_tile(half_t* dst, const half_t* __restrict__ src, int b, int N, int row0,
                                          int h, int D, int ld, int vec, const int* __restrict__ keep) {
    constexpr int PITCH = DP + 8;
    if (vec) {
        constexpr int CH = DP / 8;   // 16-byte chunks per row
        for (int e = threadIdx.x; e < FBQ * CH; e += blockDim.x) {
            const int r = e / CH, c = e - r * CH;
            const int n = row0 + r;
            u32x4 val = {0u, 0u, 0u, 0u};
            if (n < N && c * 8 < D && (keep == nullptr || keep[(i64)b * N + n] != 0)) {
                val = *(const u32x4*)(src + ((i64)b * N + n) * ld + (i64)h * D + c * 8);
            }
            *(u32x4*)(dst + r * PITCH + c * 8) = val;
        }
    } else {
        for (int e = threadIdx.x; e < FBQ * DP; e += blockDim.x) {
            const int r = e / DP, c = e - r * DP;
            const int n = row0 + r;
            half_t val = 0;
            if (n < N && c < D && (keep == nullptr || keep[(i64)b * N + n] != 0)) {
                val = src[((i64)b * N + n) * ld + (i64)h * D + c];
            }
            dst[r * PITCH + c] = val;
        }
    }
}

__device__ __forceinline__ void store_pair(half_t* row, int col, int D, int pairOk, float v0, float v1) {
    if (col >= D) return;
    if (pairOk) {   // D even, so col + 1 < D too, and the address is 4-byte aligned
        *(unsigned*)(row + col) = pack_half2(v0, v1);
    } else {
        row[col] = f2h(v0);
        if (col + 1 < D) row[col + 1] = f2h(v1);
    }
}

template <int DP>
__device__ __forceinline__ void attention_flash_impl(const half_t* __restrict__ q, const half_t* __restrict__ k,
                                                     const half_t* __restrict__ v, half_t* __restrict__ out,
                                                     int Nq, int Nk, int D, int ldq, int ldk, int ldv, int ldo,
                                                     const int* __restrict__ keep, int causal, float scaleLog2,
                                                     int vec) {
    static_assert(DP % 16 == 0 && DP >= 16 && DP <= 160, "DP must be a multiple of 16 in [16, 160]");
    constexpr int PITCH = DP + 8;
    constexpr int KC = DP / 16;     // 16-wide chunks of the head dimension (k-steps of Q K^T)
    constexpr int NO = DP / 8;      // 8-wide output column tiles
    constexpr int NS = FBK / 8;     // 8-wide key tiles of S
    extern __shared__ u32x4 smem_vec[];     // 16-byte aligned by its element type
    half_t* Qs = (half_t*)smem_vec;
    half_t* Ks = Qs + FBQ * PITCH;
    half_t* Vs = Ks + FBK * PITCH;

    const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * FBQ;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int r0 = warp * 16;

    load_tile<DP>(Qs, q, b, Nq, q0, h, D, ldq, vec, nullptr);
    __syncthreads();

    unsigned qf[KC][4];
#pragma unroll
    for (int kc = 0; kc < KC; kc++) {
        const int c = kc * 16 + 2 * t;
        qf[kc][0] = *(const unsigned*)(Qs + (r0 + g) * PITCH + c);
        qf[kc][1] = *(const unsigned*)(Qs + (r0 + g + 8) * PITCH + c);
        qf[kc][2] = *(const unsigned*)(Qs + (r0 + g) * PITCH + c + 8);
        qf[kc][3] = *(const unsigned*)(Qs + (r0 + g + 8) * PITCH + c + 8);
    }

    float o[NO][4];
#pragma unroll
    for (int i = 0; i < NO; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float mA = neg_inf(), mB = neg_inf();   // running max of rows g and g + 8 (log2 domain)
    float lA = 0.f, lB = 0.f;               // this lane's share of the running sums
    const int qA = q0 + r0 + g, qB = qA + 8;

    const int kEnd = causal ? (Nk < q0 + FBQ ? Nk : q0 + FBQ) : Nk;
    for (int k0 = 0; k0 < kEnd; k0 += FBK) {
        __syncthreads();   // every warp is done with the previous K / V tile
        load_tile<DP>(Ks, k, b, Nk, k0, h, D, ldk, vec, keep);
        load_tile<DP>(Vs, v, b, Nk, k0, h, D, ldv, vec, keep);
        __syncthreads();

        float s[NS][4];
#pragma unroll
        for (int nt = 0; nt < NS; nt++) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
            const half_t* krow = Ks + (nt * 8 + g) * PITCH + 2 * t;
#pragma unroll
            for (int kc = 0; kc < KC; kc++) {
                const unsigned b0 = *(const unsigned*)(krow + kc * 16);
                const unsigned b1 = *(const unsigned*)(krow + kc * 16 + 8);
                mma_16816(s[nt], qf[kc], b0, b1);
            }
        }

        float tmA = neg_inf(), tmB = neg_inf();
#pragma unroll
        for (int nt = 0; nt < NS; nt++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int kj = k0 + nt * 8 + 2 * t + e;
                const bool ok = kj < Nk && (keep == nullptr || keep[(i64)b * Nk + kj] != 0);
                const bool visA = ok && (!causal || kj <= qA);
                const bool visB = ok && (!causal || kj <= qB);
                s[nt][e] = visA ? s[nt][e] * scaleLog2 : neg_inf();
                s[nt][2 + e] = visB ? s[nt][2 + e] * scaleLog2 : neg_inf();
                tmA = fmaxf(tmA, s[nt][e]);
                tmB = fmaxf(tmB, s[nt][2 + e]);
            }
        }
        tmA = fmaxf(tmA, __shfl_xor_sync(FULL_MASK, tmA, 1));
        tmA = fmaxf(tmA, __shfl_xor_sync(FULL_MASK, tmA, 2));
        tmB = fmaxf(tmB, __shfl_xor_sync(FULL_MASK, tmB, 1));
        tmB = fmaxf(tmB, __shfl_xor_sync(FULL_MASK, tmB, 2));
        const float mNewA = fmaxf(mA, tmA), mNewB = fmaxf(mB, tmB);
        const float mUseA = mNewA == neg_inf() ? 0.f : mNewA;   // no visible key yet: p = corr = 0
        const float mUseB = mNewB == neg_inf() ? 0.f : mNewB;
        const float corrA = exp2f(mA - mUseA), corrB = exp2f(mB - mUseB);
        mA = mNewA;
        mB = mNewB;

        float sumA = 0.f, sumB = 0.f;
#pragma unroll
        for (int nt = 0; nt < NS; nt++) {
            s[nt][0] = exp2f(s[nt][0] - mUseA);
            s[nt][1] = exp2f(s[nt][1] - mUseA);
            s[nt][2] = exp2f(s[nt][2] - mUseB);
            s[nt][3] = exp2f(s[nt][3] - mUseB);
            sumA += s[nt][0] + s[nt][1];
            sumB += s[nt][2] + s[nt][3];
        }
        lA = lA * corrA + sumA;
        lB = lB * corrB + sumB;
#pragma unroll
        for (int i = 0; i < NO; i++) {
            o[i][0] *= corrA; o[i][1] *= corrA;
            o[i][2] *= corrB; o[i][3] *= corrB;
        }

#pragma unroll
        for (int kc = 0; kc < FBK / 16; kc++) {
            unsigned a[4];
            a[0] = pack_half2(s[2 * kc][0], s[2 * kc][1]);
            a[1] = pack_half2(s[2 * kc][2], s[2 * kc][3]);
            a[2] = pack_half2(s[2 * kc + 1][0], s[2 * kc + 1][1]);
            a[3] = pack_half2(s[2 * kc + 1][2], s[2 * kc + 1][3]);
            // lane l addresses row (l & 7) of 8x8 matrix l >> 3: matrices 0 / 1 are keys +0..7 / +8..15 of the
            // column tile 2*dp, matrices 2 / 3 the same keys of column tile 2*dp + 1
            const half_t* vbase = Vs + (kc * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * PITCH + (lane >> 4) * 8;
#pragma unroll
            for (int dp = 0; dp < NO / 2; dp++) {
                unsigned b0, b1, b2, b3;
                ldmatrix_x4_trans(b0, b1, b2, b3, vbase + dp * 16);
                mma_16816(o[2 * dp], a, b0, b1);
                mma_16816(o[2 * dp + 1], a, b2, b3);
            }
        }
    }

    lA += __shfl_xor_sync(FULL_MASK, lA, 1);
    lA += __shfl_xor_sync(FULL_MASK, lA, 2);
    lB += __shfl_xor_sync(FULL_MASK, lB, 1);
    lB += __shfl_xor_sync(FULL_MASK, lB, 2);
    const float invA = lA > 0.f ? 1.0f / lA : 0.f;
    const float invB = lB > 0.f ? 1.0f / lB : 0.f;
    const int pairOk = (D % 2 == 0) && (ldo % 2 == 0);
    half_t* rowA = out + ((i64)b * Nq + qA) * ldo + (i64)h * D;
    half_t* rowB = out + ((i64)b * Nq + qB) * ldo + (i64)h * D;
#pragma unroll
    for (int i = 0; i < NO; i++) {
        const int col = i * 8 + 2 * t;
        if (qA < Nq) store_pair(rowA, col, D, pairOk, o[i][0] * invA, o[i][1] * invA);
        if (qB < Nq) store_pair(rowB, col, D, pairOk, o[i][2] * invB, o[i][3] * invB);
    }
}

#define ATTENTION_FLASH(DP)                                                                                    \
    extern "C" __global__ void __launch_bounds__(128) attention_flash_d##DP(                                   \
            const half_t* q, const half_t* k, const half_t* v, half_t* out, int Nq, int Nk, int D, int ldq,   \
            int ldk, int ldv, int ldo, const int* keep, int causal, float scaleLog2, int vec) {              \
        attention_flash_impl<DP>(q, k, v, out, Nq, Nk, D, ldq, ldk, ldv, ldo, keep, causal, scaleLog2, vec); \
    }

ATTENTION_FLASH(16)
ATTENTION_FLASH(32)
ATTENTION_FLASH(48)
ATTENTION_FLASH(64)
ATTENTION_FLASH(80)
ATTENTION_FLASH(96)
ATTENTION_FLASH(112)
ATTENTION_FLASH(128)
ATTENTION_FLASH(144)
ATTENTION_FLASH(160)
