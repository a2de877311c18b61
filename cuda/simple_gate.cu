// simple_gate.cu — NAFNet SimpleGate: x [B, 2C, P] -> y [B, C, P], y[b, c, p] = x[b, c, p] * x[b, C + c, p]
// (the first half of the channels times the second half; P = H*W).
// Launch: 1-D grid-stride over B*C*P, blockDim 256.
// Checked by: CudaOpsTest.simpleGate against a Java loop, and the conformance suite (CpuOps.simpleGate).
#include "common.cuh"

extern "C" __global__ void simple_gate(const void* x, int xHalf, void* y, int yHalf, i64 batch, i64 halfSize) {
    i64 n = batch * halfSize;              // halfSize = C * P
    GRID_STRIDE_LOOP(i, n) {
        i64 b = i / halfSize;
        i64 rem = i - b * halfSize;
        i64 base = b * 2 * halfSize + rem;
        stx(y, yHalf, i, ldx(x, xHalf, base) * ldx(x, xHalf, base + halfSize));
    }
}

// ---- simple_gate_fast_{f16,f32}_v{V} (Features.fastKernels; not yet run on a GPU) -------------------------
// The same SimpleGate with x and y of one dtype T, seen as rows: sample b's output row y[b] (half = C*P
// elements) is x[b, :C] * x[b, C:], both halves contiguous. V = 16 / sizeof(T) elements per access when half is
// a multiple of it (then both halves of every sample start aligned), else the V = 1 instantiation.
// Launch: grid (ceil(half / (V * blockDim.x * 4)), min(B, 65535)), blockDim a multiple of 32 up to 256;
// samples strided over gridDim.y; 4 vectors of each half in flight per thread; 32-bit index math within a
// sample (the host keeps half below 2^30).
// Floor: 3 * B*C*P * sizeof(T) bytes (two reads, one write), 1 flop per output. SCM at 512², FP16 (72 calls,
// on 2C = 128 ... 2048 channels): 1.9 GB in all, 0.40 ms at 4.8 TB/s (the old kernel: 1.69 ms).
// Checked by: CudaFastKernelsTest.simpleGate (ReferenceOps.simpleGate).
//   Without a GPU: FastKernelsEmulationTest.simpleGate (the host emulation of this source, CudaOps' launch geometry).
template <typename T, int V>
__device__ __forceinline__ void simple_gate_fast_body(const T* x, T* y, int rows, int half) {
    for (int r = blockIdx.y; r < rows; r += gridDim.y) {
        const T* a = x + 2 * (i64)r * half;
        fast_row2<T, V>(a, a + half, y + (i64)r * half, half / V, [](float p, float q) { return p * q; });
    }
}

#define SIMPLE_GATE_FAST(NAME, T, V) \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* x, T* y, int rows, int half) { \
        simple_gate_fast_body<T, V>(x, y, rows, half); \
    }
SIMPLE_GATE_FAST(simple_gate_fast_f16_v8, half_t, 8)
SIMPLE_GATE_FAST(simple_gate_fast_f16_v1, half_t, 1)
SIMPLE_GATE_FAST(simple_gate_fast_f32_v4, float, 4)
SIMPLE_GATE_FAST(simple_gate_fast_f32_v1, float, 1)

// ---- simple_gate_bias_fast_{f16,f32}_v{V} (Features.fastKernels; not yet run on a GPU) -------------------
// Ops.simpleGate(x, bias), NAFNet's SimpleGate with the preceding 1x1 convolution's bias folded in:
//   y[b, c, p] = (x[b, c, p] + bias[c]) * (x[b, C + c, p] + bias[C + c])   for x [B, 2C, P], bias [2C], y [B, C, P]
// of one dtype T; rows = B*C output planes of P elements (two input planes each). One pass instead of two (the
// bias add and SimpleGate): 3 * B*C*P * sizeof(T) bytes. V = 16 / sizeof(T) when P is a multiple of it, else 1;
// launch as the other row-wise fast kernels (fastRowsLaunch(B*C, P, V) in CudaOps).
// Checked by: the conformance suites' fusedForms on a GPU; without one, FastKernelsEmulationTest.simpleGateBias.
template <typename T, int V>
__device__ __forceinline__ void simple_gate_bias_fast_body(const T* x, const T* bias, T* y, int rows, int C, int P) {
    for (int r = blockIdx.y; r < rows; r += gridDim.y) {
        const int b = r / C, c = r - b * C;
        const float b1 = to_float(bias[c]), b2 = to_float(bias[C + c]);
        const T* lo = x + ((i64)b * 2 * C + c) * P;
        fast_row2<T, V>(lo, lo + (i64)C * P, y + (i64)r * P, P / V, [=](float p, float q) { return (p + b1) * (q + b2); });
    }
}

#define SIMPLE_GATE_BIAS_FAST(NAME, T, V) \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* x, const T* bias, T* y, int rows, int C, int P) { \
        simple_gate_bias_fast_body<T, V>(x, bias, y, rows, C, P); \
    }
SIMPLE_GATE_BIAS_FAST(simple_gate_bias_fast_f16_v8, half_t, 8)
SIMPLE_GATE_BIAS_FAST(simple_gate_bias_fast_f16_v1, half_t, 1)
SIMPLE_GATE_BIAS_FAST(simple_gate_bias_fast_f32_v4, float, 4)
SIMPLE_GATE_BIAS_FAST(simple_gate_bias_fast_f32_v1, float, 1)
