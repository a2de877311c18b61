// global_avg_pool.cu — mean over each plane: x [R, P] -> y [R] (R = B*C, P = H*W), float32 accumulation
// (NAFNet's simplified channel attention: AdaptiveAvgPool2d(1)).
// Launch: gridDim.x = R (one block per plane), blockDim 256 (a multiple of 32, at most 1024).
// Checked by: CudaOpsTest.globalAvgPool against a double-precision Java mean, and the conformance suite.
#include "common.cuh"

extern "C" __global__ void global_avg_pool(const void* x, int xHalf, void* y, int yHalf, i64 planeSize) {
    __shared__ float partial[32];
    const i64 row = blockIdx.x;
    const void* base = xHalf ? (const void*)((const half_t*)x + row * planeSize)
                             : (const void*)((const float*)x + row * planeSize);
    float s = 0.f;
    for (i64 i = threadIdx.x; i < planeSize; i += blockDim.x) s += ldx(base, xHalf, i);
    s = warp_sum(s);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) partial[warp] = s;
    __syncthreads();
    if (warp == 0) {
        const int warps = (blockDim.x + 31) >> 5;
        float t = lane < warps ? partial[lane] : 0.f;
        t = warp_sum(t);
        if (lane == 0) stx(y, yHalf, row, t / (float)planeSize);
    }
}

// ---- global_avg_pool_fast_{f16,f32}_v{V} + global_avg_pool_finish (Features.fastKernels; not yet run on a GPU)
// The same mean with x and y of one dtype T, split so that the grid fills the GPU even with few planes: plane
// r's elements [s * chunk, (s + 1) * chunk) are summed by block (s, r) (chunk a multiple of V; S = gridDim.x
// chunks per plane). With S = 1 that block writes y[r] = sum / P directly; otherwise it writes its float32 sum
// to partial[r * S + s] (scratch from the arena) and global_avg_pool_finish adds each plane's S partials. No
// atomics: every sum is taken in a fixed order (per thread, then the warp shuffle tree, then the block's warps
// in order, then the S partials lane-strided and shuffled), so a shape gives bit-identical results run to run
// on a given GPU (S depends on the SM count).
// V = 16 / sizeof(T) elements per access when P is a multiple of it (every plane starts aligned), else the
// V = 1 instantiation.
// Launch: grid (S, min(R, 65535)), blockDim 256 (a multiple of 32), planes strided over gridDim.y; 4 vectors in
// flight per thread; 32-bit index math within a plane (the host keeps P below 2^30). The host picks S so that
// R * S is at least 4 blocks per SM (and a chunk at least one vector per thread). finish: one warp per plane,
// blockDim 256, grid ceil(R / 8).
// Floor: one read of B*C*P * sizeof(T) bytes (+ 4 bytes per partial), 1 flop per element. SCM at 512², FP16
// (36 calls, 64 planes of 512² ... 1024 of 32²): 0.32 GB in all, 66 µs at 4.8 TB/s (the old kernel: 2.48 ms,
// 64 blocks on 132 SMs at the first level).
// Checked by: CudaFastKernelsTest.globalAvgPool (ReferenceOps.globalAvgPool) and its determinism check.
//   Without a GPU: FastKernelsEmulationTest.globalAvgPool (the host emulation of this source, CudaOps' launch geometry).
template <typename T, int V>
__device__ __forceinline__ void global_avg_pool_fast_body(const T* x, float* partial, T* y, int rows, int P, int chunk) {
    constexpr int U = 4;
    __shared__ float warp_sums[32];
    const int S = gridDim.x, s = blockIdx.x;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    const int begin = s * (chunk / V), end = ((s + 1) * chunk < P ? (s + 1) * chunk : P) / V;   // vector indices of this chunk
    for (int r = blockIdx.y; r < rows; r += gridDim.y) {
        const T* xr = x + (i64)r * P;
        float acc[U];
#pragma unroll
        for (int u = 0; u < U; u++) acc[u] = 0.f;
        for (int j0 = begin + threadIdx.x; j0 < end; j0 += U * blockDim.x) {
            float f[U][V];
#pragma unroll
            for (int u = 0; u < U; u++) {
                const int j = j0 + u * blockDim.x;
                if (j < end) {
                    load_vec<T, V>(xr + j * V, f[u]);
                } else {
#pragma unroll
                    for (int k = 0; k < V; k++) f[u][k] = 0.f;
                }
            }
#pragma unroll
            for (int u = 0; u < U; u++) {
#pragma unroll
                for (int k = 0; k < V; k++) acc[u] += f[u][k];
            }
        }
        float sum = warp_sum((acc[0] + acc[1]) + (acc[2] + acc[3]));
        if (lane == 0) warp_sums[warp] = sum;
        __syncthreads();
        if (warp == 0) {
            float t = lane < warps ? warp_sums[lane] : 0.f;
            t = warp_sum(t);
            if (lane == 0) {
                if (S == 1) y[r] = from_float<T>(t / (float)P);
                else partial[(i64)r * S + s] = t;
            }
        }
        __syncthreads();   // warp_sums is reused by the next plane
    }
}

#define GLOBAL_AVG_POOL_FAST(NAME, T, V) \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* x, float* partial, T* y, int rows, int P, int chunk) { \
        global_avg_pool_fast_body<T, V>(x, partial, y, rows, P, chunk); \
    }
GLOBAL_AVG_POOL_FAST(global_avg_pool_fast_f16_v8, half_t, 8)
GLOBAL_AVG_POOL_FAST(global_avg_pool_fast_f16_v1, half_t, 1)
GLOBAL_AVG_POOL_FAST(global_avg_pool_fast_f32_v4, float, 4)
GLOBAL_AVG_POOL_FAST(global_avg_pool_fast_f32_v1, float, 1)

extern "C" __global__ void global_avg_pool_finish(const float* partial, void* y, int yHalf, int rows, int S, int P) {
    const int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (r >= rows) return;   // the whole warp: r is the same on every lane
    const float* pr = partial + (i64)r * S;
    float t = 0.f;
    for (int i = lane; i < S; i += 32) t += pr[i];
    t = warp_sum(t);
    if (lane == 0) stx(y, yHalf, r, t / (float)P);
}
