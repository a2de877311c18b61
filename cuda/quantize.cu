// quantize.cu — the cuda backend's INT8 / FP8 E4M3 matrix path (CudaQuantizedOps): the activation of a calibrated
// linear layer or 1x1 convolution quantized per tensor into the bytes cuBLASLt's "TN" product reads, and the raw
// accumulators of that product dequantized into the layer's output.
//
// Quantizing is QuantFormat.quantize exactly: v = (float)((double)x / smooth[k]) when SmoothQuant factors are given
// (double division, as the Java reference), t = v / scale (float32, correctly rounded), then
//   INT8: rint(t) (round half to even) saturated to -128..127, NaN -> 0 (ONNX QuantizeLinear);
//   FP8 E4M3FN: the nearest E4M3 value (round half to even, by integer arithmetic on the float's bits so the host
//   emulation runs it), |t| >= 448 -> ±448 (saturating, no infinities in E4M3FN), NaN -> 0x7F.
// Dequantizing: y = (float)acc · (xScale · wScale[n]) (+ bias[n]), each operation rounded on its own (no FMA).
//
// Layouts: the quantized activation is row-major q [rows, K] (K contiguous: cuBLASLt's B operand, column-major
// [K, rows]); the accumulators are row-major acc [rows, N] (column-major D [N, rows]).
//   *_rows: x / y row-major [rows, K] / [rows, N] (a linear layer's tokens); 1-D grid-stride, blockDim 256.
//   *_nchw: x / y NCHW [B, K, P] / [B, N, P] with rows = B·P (a 1x1 convolution, transposed on the way);
//           gridDim (ceil(P/32), ceil(C/32), B), blockDim (32, 8): a 32x32 tile in shared memory so that both the
//           read and the write are coalesced, as transpose.cu.
// Launch: see above (CudaQuantizedOps.layerSteps builds every launch).
// Checked by: QuantizedKernelsEmulationTest (bytes bit-exact against QuantFormat, dequantized output against a Java
// loop) and QuantizedLayerEmulationTest (the whole layer against FakeQuantOps); on a GPU CudaQuantizedOpsTest.
#include "common.cuh"

// the E4M3FN byte of t (see the header); integer arithmetic on the bits of |t|
__device__ __forceinline__ unsigned char e4m3_byte(float t) {
    const unsigned bits = __float_as_uint(t);
    const unsigned sign = (bits >> 24) & 0x80u;
    const unsigned abits = bits & 0x7fffffffu;
    if (abits > 0x7f800000u) return 0x7f;                        // NaN
    const float a = __uint_as_float(abits);
    if (a >= 448.f) return (unsigned char)(sign | 0x7e);         // saturate (infinities too)
    int e = (int)(abits >> 23) - 127;                            // floor(log2 a) for normal floats
    if (e < -6) e = -6;                                          // E4M3's subnormal range: steps of 2^-9
    // a / 2^(e-3), exact (a power-of-two scaling of a float that stays normal), then rounded half to even:
    // m in 0..16, the value m · 2^(e-3); bits = ((e + 6) << 3) + m covers subnormals, normals and the carry of m = 16
    const float scaled = __uint_as_float((unsigned)(abits + ((unsigned)(3 - e) << 23)));
    const int m = (int)rintf(abits == 0 ? 0.f : scaled);
    int code = ((e + 6) << 3) + m;
    if (code > 0x7e) code = 0x7e;
    return (unsigned char)(sign | (unsigned)code);
}

__device__ __forceinline__ unsigned char quantize_one(float x, const double* smooth, int k, float scale, int fp8) {
    const float v = smooth ? (float)((double)x / smooth[k]) : x;
    const float t = __fdiv_rn(v, scale);
    if (fp8) return e4m3_byte(t);
    if (t != t) return 0;
    float r = rintf(t);
    r = r < -128.f ? -128.f : (r > 127.f ? 127.f : r);
    return (unsigned char)(signed char)(int)r;
}

__device__ __forceinline__ float dequantize_one(const void* acc, int accFloat, i64 i, float xScale, const float* wScale, int n,
                                                const void* bias, int biasHalf) {
    const float a = accFloat ? ((const float*)acc)[i] : (float)((const int*)acc)[i];
    float y = __fmul_rn(a, __fmul_rn(xScale, wScale[n]));
    if (bias) y = __fadd_rn(y, ldx(bias, biasHalf, n));
    return y;
}

// q [rows, K] from x [rows, K]
extern "C" __global__ void quantize_rows(const void* x, int xHalf, const double* smooth, unsigned char* q, i64 rows, int K,
                                         float scale, int fp8) {
    GRID_STRIDE_LOOP(i, rows * K) q[i] = quantize_one(ldx(x, xHalf, i), smooth, (int)(i % K), scale, fp8);
}

// q [B·P, K] from x NCHW [B, K, P]: q[(b·P + p)·K + k] = Q(x[(b·K + k)·P + p])
extern "C" __global__ void quantize_nchw(const void* x, int xHalf, const double* smooth, unsigned char* q, int K, i64 P,
                                         float scale, int fp8) {
    __shared__ float tile[32][33];
    const i64 b = blockIdx.z, p0 = (i64)blockIdx.x * 32;
    const int k0 = blockIdx.y * 32;
    for (int r = threadIdx.y; r < 32; r += blockDim.y) {          // read along p (contiguous in x)
        const int k = k0 + r;
        const i64 p = p0 + threadIdx.x;
        if (k < K && p < P) tile[r][threadIdx.x] = ldx(x, xHalf, (b * K + k) * P + p);
    }
    __syncthreads();
    for (int r = threadIdx.y; r < 32; r += blockDim.y) {          // write along k (contiguous in q)
        const i64 p = p0 + r;
        const int k = k0 + threadIdx.x;
        if (k < K && p < P) q[(b * P + p) * K + k] = quantize_one(tile[threadIdx.x][r], smooth, k, scale, fp8);
    }
}

// y [rows, N] from acc [rows, N]
extern "C" __global__ void dequantize_rows(const void* acc, int accFloat, const float* wScale, const void* bias, int biasHalf,
                                           void* y, int yHalf, i64 rows, int N, float xScale) {
    GRID_STRIDE_LOOP(i, rows * N) stx(y, yHalf, i, dequantize_one(acc, accFloat, i, xScale, wScale, (int)(i % N), bias, biasHalf));
}

// y NCHW [B, N, P] from acc [B·P, N]: y[(b·N + n)·P + p] = dequant(acc[(b·P + p)·N + n])
extern "C" __global__ void dequantize_nchw(const void* acc, int accFloat, const float* wScale, const void* bias, int biasHalf,
                                           void* y, int yHalf, int N, i64 P, float xScale) {
    __shared__ float tile[32][33];
    const i64 b = blockIdx.z, p0 = (i64)blockIdx.x * 32;
    const int n0 = blockIdx.y * 32;
    for (int r = threadIdx.y; r < 32; r += blockDim.y) {          // read along n (contiguous in acc)
        const i64 p = p0 + r;
        const int n = n0 + threadIdx.x;
        if (n < N && p < P) tile[r][threadIdx.x] = dequantize_one(acc, accFloat, (b * P + p) * N + n, xScale, wScale, n, bias, biasHalf);
    }
    __syncthreads();
    for (int r = threadIdx.y; r < 32; r += blockDim.y) {          // write along p (contiguous in y)
        const int n = n0 + r;
        const i64 p = p0 + threadIdx.x;
        if (n < N && p < P) stx(y, yHalf, (b * N + n) * P + p, tile[threadIdx.x][r]);
    }
}
