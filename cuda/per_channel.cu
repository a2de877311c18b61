// per_channel.cu — y[b, c, p] = x[b, c, p] (op) v[(b*C + c) % nv] for x [B, C, P] (P = H*W):
// Ops.addPerChannel (op 0, the timestep embedding added inside a ResBlock) and Ops.mulPerChannel (op 1,
// NAFNet's simplified channel attention and beta/gamma scalings). nv is B*C (per sample) or C (shared).
// Launch: 1-D grid-stride over B*C*P, blockDim 256.
// Checked by: CudaOpsTest.perChannel against Java loops, and the conformance suite.
#include "common.cuh"

extern "C" __global__ void per_channel(const void* x, int xHalf, const void* v, int vHalf, void* y, int yHalf,
                                       i64 n, i64 planeSize, i64 nv, int op) {
    GRID_STRIDE_LOOP(i, n) {
        i64 bc = i / planeSize;
        float a = ldx(x, xHalf, i);
        float s = ldx(v, vHalf, bc % nv);
        stx(y, yHalf, i, op == 0 ? a + s : a * s);
    }
}

// ---- per_channel_fast_{f16,f32}_v{V} (Features.fastKernels; not yet run on a GPU) ------------------------
// The same y = x (op) v[row % nv] with x, v, y of one dtype T, x and y seen as rows = B*C planes of P elements;
// x may be y (the in-place bias add after a 1x1 convolution: each element is read, then written, by the same
// thread). V = 16 / sizeof(T) elements per access when P is a multiple of it, else the V = 1 instantiation.
// Launch: grid (ceil(P / (V * blockDim.x * 4)), min(rows, 65535)), blockDim a multiple of 32 up to 256
// (smaller for small planes); planes strided over gridDim.y. The channel's value is loaded once per plane (one
// 32-bit modulo per plane, none per element); each thread has 4 vectors in flight; 32-bit index math within a
// plane (the host keeps P below 2^30).
// Floor: 2 * B*C*P * sizeof(T) bytes, 1 flop per element. SCM at 512², FP16 (108 calls, the same shapes as
// LayerNorm2d, three per NAFBlock): 1.9 GB in all, 0.40 ms at 4.8 TB/s (the old kernel: 2.71 ms).
// Checked by: CudaFastKernelsTest.perChannel (ReferenceOps.perChannel).
//   Without a GPU: FastKernelsEmulationTest.perChannel (the host emulation of this source, CudaOps' launch geometry).
template <typename T, int V>
__device__ __forceinline__ void per_channel_fast_body(const T* x, const T* v, T* y, int rows, int P, int nv, int op) {
    constexpr int U = 4;
    const int nvec = P / V, tile = blockDim.x * U;
    for (int r = blockIdx.y; r < rows; r += gridDim.y) {
        const float s = to_float(v[r % nv]);
        const i64 base = (i64)r * P;
        const T* xr = x + base;
        T* yr = y + base;
        for (int t0 = blockIdx.x * tile; t0 < nvec; t0 += gridDim.x * tile) {
            float f[U][V];
#pragma unroll
            for (int u = 0; u < U; u++) {
                const int j = t0 + u * blockDim.x + threadIdx.x;
                if (j < nvec) load_vec<T, V>(xr + j * V, f[u]);
            }
#pragma unroll
            for (int u = 0; u < U; u++) {
                const int j = t0 + u * blockDim.x + threadIdx.x;
                if (j < nvec) {
#pragma unroll
                    for (int k = 0; k < V; k++) f[u][k] = op == 0 ? f[u][k] + s : f[u][k] * s;
                    store_vec<T, V>(yr + j * V, f[u]);
                }
            }
        }
    }
}

#define PER_CHANNEL_FAST(NAME, T, V) \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* x, const T* v, T* y, int rows, int P, int nv, int op) { \
        per_channel_fast_body<T, V>(x, v, y, rows, P, nv, op); \
    }
PER_CHANNEL_FAST(per_channel_fast_f16_v8, half_t, 8)
PER_CHANNEL_FAST(per_channel_fast_f16_v1, half_t, 1)
PER_CHANNEL_FAST(per_channel_fast_f32_v4, float, 4)
PER_CHANNEL_FAST(per_channel_fast_f32_v1, float, 1)

// ---- per_channel_residual_fast_{f16,f32}_v{V} (Features.fastKernels; not yet run on a GPU) ---------------
// Ops.addScaledPerChannel, NAFNet's residual with a folded convolution bias:
//   y[b, c, p] = a[b, c, p] + (x[b, c, p] + bias[c]) * scale[c]   (bias may be null: hasBias 0)
// for a, x, y [B, C, P] and bias, scale [C], all of one dtype T; rows = B*C planes of P elements. Replaces three
// passes (the 1x1 convolution's bias, mulPerChannel, add) by one: 3 * B*C*P * sizeof(T) bytes (two reads, one
// write). V and the launch as per_channel_fast (fastRowsLaunch in CudaOps).
// Checked by: the conformance suites' fusedForms on a GPU; without one, FastKernelsEmulationTest.perChannelResidual.
template <typename T, int V>
__device__ __forceinline__ void per_channel_residual_fast_body(const T* a, const T* x, const T* bias, const T* scale, T* y,
                                                               int rows, int P, int C, int hasBias) {
    for (int r = blockIdx.y; r < rows; r += gridDim.y) {
        const int c = r % C;
        const float b = hasBias ? to_float(bias[c]) : 0.f, s = to_float(scale[c]);
        const i64 base = (i64)r * P;
        fast_row2<T, V>(a + base, x + base, y + base, P / V, [=](float av, float xv) { return av + (xv + b) * s; });
    }
}

#define PER_CHANNEL_RESIDUAL_FAST(NAME, T, V) \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* a, const T* x, const T* bias, const T* scale, T* y, \
                                                           int rows, int P, int C, int hasBias) { \
        per_channel_residual_fast_body<T, V>(a, x, bias, scale, y, rows, P, C, hasBias); \
    }
PER_CHANNEL_RESIDUAL_FAST(per_channel_residual_fast_f16_v8, half_t, 8)
PER_CHANNEL_RESIDUAL_FAST(per_channel_residual_fast_f16_v1, half_t, 1)
PER_CHANNEL_RESIDUAL_FAST(per_channel_residual_fast_f32_v4, float, 4)
PER_CHANNEL_RESIDUAL_FAST(per_channel_residual_fast_f32_v1, float, 1)
