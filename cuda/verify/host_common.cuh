// host_common.cuh — a host (g++) stand-in for the device primitives of cuda/common.cuh, used only by
// emulate_fast_kernels.sh: the runner copies it as common.cuh next to copies of the .cu files and appends the real
// common.cuh's vector-access section, so the kernel bodies compile unchanged as C++20. FP16 goes through _Float16
// (round to nearest even, like cvt.rn.f16.f32); shuffles and __syncthreads are implemented by the harness with
// barriers over one host thread per emulated GPU thread.
#pragma once
#include <cstdint>
#include <cmath>
#include <cstring>
#include <barrier>
typedef uint16_t half_t;
typedef long long i64;
#define FULL_MASK 0xffffffffu
#define __device__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
struct dim3e { unsigned x = 1, y = 1, z = 1; };
extern thread_local dim3e threadIdx, blockIdx;
extern dim3e blockDim, gridDim;
inline float h2f(half_t h) { _Float16 f; memcpy(&f, &h, 2); return (float)f; }
inline half_t f2h(float v) { _Float16 f = (_Float16)v; half_t h; memcpy(&h, &f, 2); return h; }
inline unsigned pack_half2(float lo, float hi) { return (unsigned)f2h(lo) | ((unsigned)f2h(hi) << 16); }
inline float ldx(const void* p, int isHalf, i64 i) { return isHalf ? h2f(((const half_t*)p)[i]) : ((const float*)p)[i]; }
inline void stx(void* p, int isHalf, i64 i, float v) { if (isHalf) ((half_t*)p)[i] = f2h(v); else ((float*)p)[i] = v; }
inline float to_float(float v) { return v; }
inline float to_float(half_t v) { return h2f(v); }
template <typename T> T from_float(float v);
template <> inline float from_float<float>(float v) { return v; }
template <> inline half_t from_float<half_t>(float v) { return f2h(v); }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
float __shfl_xor_sync(unsigned mask, float v, int o);
void __syncthreads();
inline float warp_sum(float v) { for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o); return v; }
#define GRID_STRIDE_LOOP(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)(n); i += (i64)gridDim.x * blockDim.x)
