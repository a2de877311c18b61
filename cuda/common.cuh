// common.cuh — device helpers shared by every kernel in this folder.
//
// Header-only and free of CUDA headers on purpose: NVRTC (the run-time fallback when a .fatbin is missing)
// compiles these sources with no include path, so half precision is handled as raw IEEE binary16 bits
// (half_t) converted with the PTX cvt instructions, and nothing from <cuda_fp16.h> or the C++ library is used.
//
// Conventions used by every kernel:
//  * a tensor argument is a pointer plus an "is half" flag (0 = float32, 1 = float16) when the kernel is
//    dtype-generic; arithmetic is always float32 (FP16 tensors are storage only);
//  * element indices are 64-bit (i64) — the largest activations (VAE at 768²) stay under 2^31 elements, but
//    byte offsets and products of dimensions do not;
//  * kernels that use warp shuffles are launched with blockDim.x a multiple of 32 and never let part of a
//    warp leave before a shuffle.
#pragma once

typedef unsigned short half_t;   // IEEE-754 binary16 bit pattern
typedef long long i64;

#define FULL_MASK 0xffffffffu

#ifdef AUTODIR_HOST_EMULATION
// the tests' host emulation (src/test/cpp/kernel_emulation.h): IEEE binary16 through the host's _Float16
__device__ __forceinline__ float h2f(half_t h) { return emu_h2f(h); }
__device__ __forceinline__ half_t f2h(float f) { return emu_f2h(f); }
#else
__device__ __forceinline__ float h2f(half_t h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

// round to nearest even, overflow to ±inf, like __float2half_rn
__device__ __forceinline__ half_t f2h(float f) {
    half_t h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
#endif

// 16 bytes for one vector load or store (8 halves or 4 floats); our own type because NVRTC without an include path
// may not declare CUDA's uint4
struct alignas(16) u32x4 { unsigned x, y, z, w; };

#ifndef AUTODIR_HOST_EMULATION
// Tensor-core helpers of the mma kernels (attention_flash.cu, conv2d_igemm.cu); not available to the host emulation.
// The 32-bit shared-memory address of a generic pointer into shared memory (for ldmatrix).
__device__ __forceinline__ unsigned smem_addr(const void* p) {
    unsigned a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

__device__ __forceinline__ void mma_16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
#endif

// two floats -> one 32-bit register holding {lo in bits 0..15, hi in bits 16..31}
__device__ __forceinline__ unsigned pack_half2(float lo, float hi) {
    return (unsigned)f2h(lo) | ((unsigned)f2h(hi) << 16);
}

// dtype-generic element access (flag: 0 = float32, 1 = float16)
__device__ __forceinline__ float ldx(const void* p, int isHalf, i64 i) {
    return isHalf ? h2f(((const half_t*)p)[i]) : ((const float*)p)[i];
}

__device__ __forceinline__ void stx(void* p, int isHalf, i64 i, float v) {
    if (isHalf) ((half_t*)p)[i] = f2h(v);
    else ((float*)p)[i] = v;
}

// typed access for templated kernels (T = float or half_t)
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(half_t v) { return h2f(v); }
template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ half_t from_float<half_t>(float v) { return f2h(v); }

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

// Chan et al.'s merge of two (count, mean, M2) partial statistics; exact for counts below 2^24.
__device__ __forceinline__ void chan_merge(float& n, float& mean, float& m2, float nb, float meanb, float m2b) {
    float nt = n + nb;
    if (nt == 0.f) return;
    float delta = meanb - mean;
    float fb = nb / nt;
    mean = mean + delta * fb;
    m2 = m2 + m2b + delta * delta * n * fb;
    n = nt;
}

// butterfly merge of per-lane statistics: every lane ends with the warp's total
__device__ __forceinline__ void warp_chan_merge(float& n, float& mean, float& m2) {
    for (int o = 16; o > 0; o >>= 1) {
        float nb = __shfl_xor_sync(FULL_MASK, n, o);
        float mb = __shfl_xor_sync(FULL_MASK, mean, o);
        float m2b = __shfl_xor_sync(FULL_MASK, m2, o);
        chan_merge(n, mean, m2, nb, mb, m2b);
    }
}

// flat grid-stride loop over [0, n)
#define GRID_STRIDE_LOOP(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)(n); i += (i64)gridDim.x * blockDim.x)

// ---- vector access for the fastKernels variants (Features.fastKernels) ----------------------------------
// V consecutive elements of T (float or half_t) moved as one 16-, 8-, 4- or 2-byte access and widened to /
// narrowed from float32. The address must be aligned to V * sizeof(T): the callers only pick V > 1 when every
// row they touch starts at a multiple of V elements (arena and weight allocations are 256-byte aligned).
template <int N> struct alignas(4 * N) vec_words { unsigned w[N]; };

template <typename T, int V>
__device__ __forceinline__ void load_vec(const T* p, float (&f)[V]) {
    constexpr int BYTES = V * (int)sizeof(T);
    static_assert(BYTES == 16 || BYTES == 8 || BYTES == 4 || BYTES == 2, "load_vec: 2, 4, 8 or 16 bytes");
    if constexpr (BYTES == 2) {
        f[0] = to_float(*p);
    } else {
        constexpr int N = BYTES / 4;
        const vec_words<N> r = *reinterpret_cast<const vec_words<N>*>(p);
#pragma unroll
        for (int i = 0; i < N; i++) {
            if constexpr (sizeof(T) == 4) {
                f[i] = __uint_as_float(r.w[i]);
            } else {
                f[2 * i] = h2f((half_t)(r.w[i] & 0xffffu));
                f[2 * i + 1] = h2f((half_t)(r.w[i] >> 16));
            }
        }
    }
}

template <typename T, int V>
__device__ __forceinline__ void store_vec(T* p, const float (&f)[V]) {
    constexpr int BYTES = V * (int)sizeof(T);
    if constexpr (BYTES == 2) {
        *p = from_float<T>(f[0]);
    } else {
        constexpr int N = BYTES / 4;
        vec_words<N> r;
#pragma unroll
        for (int i = 0; i < N; i++) {
            if constexpr (sizeof(T) == 4) r.w[i] = __float_as_uint(f[i]);
            else r.w[i] = pack_half2(f[2 * i], f[2 * i + 1]);
        }
        *reinterpret_cast<vec_words<N>*>(p) = r;
    }
}

// One row of a two-input row-wise fast kernel (binary, simple_gate): y[j] = f(a[j], b[j]) elementwise over nvec
// vectors of V elements; each thread keeps 4 vectors of each input in flight; the row's tiles of blockDim.x * 4
// vectors are strided over gridDim.x. 32-bit indices within the row (the host keeps rows below 2^30 elements).
template <typename T, int V, typename F>
__device__ __forceinline__ void fast_row2(const T* a, const T* b, T* y, int nvec, F f) {
    constexpr int U = 4;
    const int tile = blockDim.x * U;
    for (int t0 = blockIdx.x * tile; t0 < nvec; t0 += gridDim.x * tile) {
        float va[U][V], vb[U][V];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = t0 + u * blockDim.x + threadIdx.x;
            if (j < nvec) {
                load_vec<T, V>(a + j * V, va[u]);
                load_vec<T, V>(b + j * V, vb[u]);
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = t0 + u * blockDim.x + threadIdx.x;
            if (j < nvec) {
#pragma unroll
                for (int k = 0; k < V; k++) va[u][k] = f(va[u][k], vb[u][k]);
                store_vec<T, V>(y + j * V, va[u]);
            }
        }
    }
}
