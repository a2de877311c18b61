// binary.cu — elementwise y[i] = a[i] (op) b[i % nb], i in [0, n): residual adds (Ops.add, where b's shape is
// a suffix of a's and repeats over a's leading dimensions) and Ops.mul (nb == n).
//   op 0: add     op 1: multiply
// Launch: 1-D grid-stride, blockDim 256. a, b, y each carry a dtype flag (float32 result if any input is).
// Checked by: CudaOpsTest.addBroadcast / mul against Java loops, and the conformance suite (CpuOps.add/mul).
#include "common.cuh"

extern "C" __global__ void binary(const void* a, int aHalf, const void* b, int bHalf, void* y, int yHalf,
                                  i64 n, i64 nb, int op) {
    GRID_STRIDE_LOOP(i, n) {
        float va = ldx(a, aHalf, i);
        float vb = ldx(b, bHalf, nb == n ? i : i % nb);
        stx(y, yHalf, i, op == 0 ? va + vb : va * vb);
    }
}

// ---- binary_fast_{f16,f32}_v{V} (Features.fastKernels; not yet run on a GPU) ------------------------------
// The same y = a (op) b with a, b, y of one dtype T, seen as rows: a and y are [rows, rowLen] (rows = n / nb,
// rowLen = nb) and b is one row, repeated. V = 16 / sizeof(T) elements per access (one 16-byte load or store)
// when rowLen is a multiple of it (every row then starts aligned), else the V = 1 instantiation.
// Launch: grid (ceil(rowLen / (V * blockDim.x * 4)), min(rows, 65535)), blockDim a multiple of 32 up to 256
// (smaller for short rows); rows strided over gridDim.y, tiles over gridDim.x. Each thread has 4 vectors of a
// and 4 of b in flight (indices t0 + u * blockDim.x + threadIdx.x, coalesced); all index math is 32-bit
// within a row (the host keeps rowLen below 2^30), one 64-bit multiply per row.
// Floor: 3 * n * sizeof(T) bytes (b, when it repeats, mostly from L2), 1 flop per element. SCM at 512², FP16:
// 6 bytes per element, 100 MB for one residual add at 64*512² (21 µs at 4.8 TB/s); the 77 adds move 2.1 GB in
// all, 0.44 ms (the old kernel: 1.70 ms).
// Checked by: CudaFastKernelsTest.add / mul (ReferenceOps.add / mul).
//   Without a GPU: FastKernelsEmulationTest.binary (the host emulation of this source, CudaOps' launch geometry).
template <typename T, int V>
__device__ __forceinline__ void binary_fast_body(const T* a, const T* b, T* y, int rows, int rowLen, int op) {
    for (int r = blockIdx.y; r < rows; r += gridDim.y) {
        const i64 base = (i64)r * rowLen;
        if (op == 0) fast_row2<T, V>(a + base, b, y + base, rowLen / V, [](float p, float q) { return p + q; });
        else fast_row2<T, V>(a + base, b, y + base, rowLen / V, [](float p, float q) { return p * q; });
    }
}

#define BINARY_FAST(NAME, T, V) \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* a, const T* b, T* y, int rows, int rowLen, int op) { \
        binary_fast_body<T, V>(a, b, y, rows, rowLen, op); \
    }
BINARY_FAST(binary_fast_f16_v8, half_t, 8)
BINARY_FAST(binary_fast_f16_v1, half_t, 1)
BINARY_FAST(binary_fast_f32_v4, float, 4)
BINARY_FAST(binary_fast_f32_v1, float, 1)
