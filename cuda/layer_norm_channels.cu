// layer_norm_channels.cu — NAFNet's LayerNorm2d: x [B, C, P] (P = H*W) normalised over C at every pixel:
//   y[b, c, p] = (x[b, c, p] - mean_bp) / sqrt(var_bp + eps) * gamma[c] + beta[c], biased variance,
//   two passes in float32 (the mean of x - x[b, 0, p], then the centred sum of squares).
// Launch: one thread per (b, p): 1-D grid-stride over B*P, blockDim 256; for a fixed c, neighbouring threads
// read neighbouring pixels, so every pass is coalesced.
// Checked by: CudaOpsTest.layerNormChannels (double-precision Java reference) and the conformance suite.
#include "common.cuh"

extern "C" __global__ void layer_norm_channels(const void* x, int xHalf, const void* gamma, int gammaHalf,
                                               const void* beta, int betaHalf, void* y, int yHalf,
                                               i64 batch, int C, i64 planeSize, float eps) {
    const i64 n = batch * planeSize;
    GRID_STRIDE_LOOP(i, n) {
        const i64 b = i / planeSize;
        const i64 p = i - b * planeSize;
        const i64 base = b * C * planeSize + p;
        const float shift = ldx(x, xHalf, base);   // sum x - x[b, 0, p]: a large offset does not round the sum
        float s = 0.f;
        for (int c = 0; c < C; c++) s += ldx(x, xHalf, base + c * planeSize) - shift;
        const float mean = shift + s / (float)C;
        float q = 0.f;
        for (int c = 0; c < C; c++) {
            float d = ldx(x, xHalf, base + c * planeSize) - mean;
            q += d * d;
        }
        const float rstd = 1.0f / sqrtf(q / (float)C + eps);
        for (int c = 0; c < C; c++) {
            float v = (ldx(x, xHalf, base + c * planeSize) - mean) * rstd;
            stx(y, yHalf, base + c * planeSize, v * ldx(gamma, gammaHalf, c) + ldx(beta, betaHalf, c));
        }
    }
}

// ---- layer_norm_channels_fast_{f16,f32}_v{V} (Features.fastKernels; not yet run on a GPU) -------------------
// The same LayerNorm2d with every tensor of one dtype T (x, gamma, beta, y: all FP16 or all FP32; the host
// takes the kernel above for any other mix), V pixels per access: V = 16 / sizeof(T) (8 halves or 4 floats,
// one 16-byte load) when P is a multiple of it, else the V = 1 instantiation.
// Launch: block (X, S), X * S = 256: X in {4, 8, 16, 32} pixel vectors side by side (a channel row is read as
// X * V contiguous elements) times S = 256 / X channel groups; grid (ceil(P / (V * X)), min(B, 65535)), the
// batch strided over gridDim.y. Thread (tx, ty) owns pixels V * (blockIdx.x * X + tx) + [0, V) and channels
// ty, ty + S, ty + 2S, ...; the host picks the widest X that still gives >= 2 blocks per SM.
// Pass 1 (one read of x): per pixel, the float32 sum and sum of squares of d = x - x[b, 0, p], four channel
// loads in flight per thread; reduced over the S channel groups with warp shuffles, then shared memory in a
// fixed order (deterministic). mean = x0 + Σd/C, var = max(Σd²/C - (Σd/C)², 0): the shift by the pixel's own
// channel 0 keeps a large common offset out of the sums, so the cancellation costs about a bit (|Σd/C| is of
// the order of the standard deviation), as in the two-pass kernel above.
// Pass 2: x read again (the block's slice was just read: expected from L2) and y = (x - mean) * rstd * gamma[c]
// + beta[c] written with the same vector width.
// Floor: one DRAM read and one write of the tensor (2 * B*C*P * sizeof(T) bytes), ~6 flops per element. SCM
// at 512², FP16, 72 calls on C*P = 64*512² ... 1024*32² elements: 1.28 GB in all, 0.27 ms at the H200's
// 4.8 TB/s (the old kernel: 10.47 ms).
// Checked by: CudaFastKernelsTest.layerNormChannels (ReferenceOps.layerNormChannels, double precision).
//   Without a GPU: FastKernelsEmulationTest.layerNormChannels (the host emulation of this source, CudaOps' launch geometry).
template <typename T, int V>
__device__ __forceinline__ void layer_norm_channels_fast_body(const T* x, const T* gamma, const T* beta, T* y,
                                                              int batch, int C, int P, float eps) {
    constexpr int THREADS = 256, WARPS = THREADS / 32, U = 4;
    __shared__ float red_s[WARPS * V * 32], red_q[WARPS * V * 32];   // [warp][v][tx]
    __shared__ float stat_mean[V * 32], stat_rstd[V * 32];            // [v][tx], mean of d
    const int X = blockDim.x, S = blockDim.y;
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int t = ty * X + tx, lane = t & 31, warp = t >> 5;
    const int pv = blockIdx.x * X + tx;                 // this thread's pixel vector
    const bool valid = pv < P / V;
    const i64 step = (i64)S * P;                        // from channel c to c + S
    for (int b = blockIdx.y; b < batch; b += gridDim.y) {
        const i64 base = (i64)b * C * P + (i64)pv * V;  // element (b, 0, first pixel)
        float shift[V], s[V], q[V];
#pragma unroll
        for (int v = 0; v < V; v++) shift[v] = s[v] = q[v] = 0.f;
        if (valid) {
            load_vec<T, V>(x + base, shift);
            const T* px = x + base + (i64)ty * P;
            int c = ty;
            for (; c + 3 * S < C; c += U * S, px += U * step) {
                float a[U][V];
#pragma unroll
                for (int u = 0; u < U; u++) load_vec<T, V>(px + u * step, a[u]);
#pragma unroll
                for (int u = 0; u < U; u++) {
#pragma unroll
                    for (int v = 0; v < V; v++) {
                        const float d = a[u][v] - shift[v];
                        s[v] += d;
                        q[v] = fmaf(d, d, q[v]);
                    }
                }
            }
            for (; c < C; c += S, px += step) {
                float a[V];
                load_vec<T, V>(px, a);
#pragma unroll
                for (int v = 0; v < V; v++) {
                    const float d = a[v] - shift[v];
                    s[v] += d;
                    q[v] = fmaf(d, d, q[v]);
                }
            }
        }
        // the 32 / X channel groups inside one warp first (lanes tx, tx + X, ... hold the same pixels)
        for (int o = X; o < 32; o <<= 1) {
#pragma unroll
            for (int v = 0; v < V; v++) {
                s[v] += __shfl_xor_sync(FULL_MASK, s[v], o);
                q[v] += __shfl_xor_sync(FULL_MASK, q[v], o);
            }
        }
        if (lane < X) {   // lane == tx here
#pragma unroll
            for (int v = 0; v < V; v++) {
                red_s[(warp * V + v) * X + lane] = s[v];
                red_q[(warp * V + v) * X + lane] = q[v];
            }
        }
        __syncthreads();
        if (t < X * V) {  // one thread per (pixel vector, element): the warps' partials in a fixed order
            const int fx = t % X, fv = t / X;
            float ss = 0.f, qq = 0.f;
            for (int w = 0; w < WARPS; w++) {
                ss += red_s[(w * V + fv) * X + fx];
                qq += red_q[(w * V + fv) * X + fx];
            }
            const float md = ss / (float)C;
            const float var = fmaxf(qq / (float)C - md * md, 0.f);
            stat_mean[fv * X + fx] = md;
            stat_rstd[fv * X + fx] = 1.0f / sqrtf(var + eps);
        }
        __syncthreads();
        if (valid) {
            float mean[V], rstd[V];
#pragma unroll
            for (int v = 0; v < V; v++) {
                mean[v] = shift[v] + stat_mean[v * X + tx];
                rstd[v] = stat_rstd[v * X + tx];
            }
            const T* px = x + base + (i64)ty * P;
            T* py = y + base + (i64)ty * P;
            int c = ty;
            for (; c + 3 * S < C; c += U * S, px += U * step, py += U * step) {
                float a[U][V], g[U], bt[U];
#pragma unroll
                for (int u = 0; u < U; u++) {
                    load_vec<T, V>(px + u * step, a[u]);
                    g[u] = to_float(gamma[c + u * S]);
                    bt[u] = to_float(beta[c + u * S]);
                }
#pragma unroll
                for (int u = 0; u < U; u++) {
#pragma unroll
                    for (int v = 0; v < V; v++) a[u][v] = fmaf((a[u][v] - mean[v]) * rstd[v], g[u], bt[u]);
                    store_vec<T, V>(py + u * step, a[u]);
                }
            }
            for (; c < C; c += S, px += step, py += step) {
                float a[V];
                load_vec<T, V>(px, a);
                const float g = to_float(gamma[c]), bt = to_float(beta[c]);
#pragma unroll
                for (int v = 0; v < V; v++) a[v] = fmaf((a[v] - mean[v]) * rstd[v], g, bt);
                store_vec<T, V>(py, a);
            }
        }
        __syncthreads();   // the shared arrays are reused by the next batch element
    }
}

#define LAYER_NORM_CHANNELS_FAST(NAME, T, V) \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* x, const T* gamma, const T* beta, T* y, int batch, int C, int P, float eps) { \
        layer_norm_channels_fast_body<T, V>(x, gamma, beta, y, batch, C, P, eps); \
    }
LAYER_NORM_CHANNELS_FAST(layer_norm_channels_fast_f16_v8, half_t, 8)
LAYER_NORM_CHANNELS_FAST(layer_norm_channels_fast_f16_v1, half_t, 1)
LAYER_NORM_CHANNELS_FAST(layer_norm_channels_fast_f32_v4, float, 4)
LAYER_NORM_CHANNELS_FAST(layer_norm_channels_fast_f32_v1, float, 1)
