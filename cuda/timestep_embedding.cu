// timestep_embedding.cu — ldm's sinusoidal timestep embedding: t [B] (fractional) -> y [B, dim],
//   half = dim / 2, freq_i = exp(-ln(10000) * i / half), y[b, i] = cos(t_b * freq_i),
//   y[b, half + i] = sin(t_b * freq_i) (cos first); an odd dim gets a zero last column (ldm pads it).
// Every step is one float32 operation in torch's order: (-ln(10000) as float32 * i) / half, expf, t * freq,
// cosf / sinf — the accurate functions (no fast-math: arguments reach ~1000 rad). t may be float32 even when
// the backend stores FP16 (an FP16 t would lose the fraction: 981.37 -> 981.5).
// Launch: 1-D grid-stride over B*dim, blockDim 256.
// Checked by: CudaOpsTest.timestepEmbedding against a Java float32 loop, and the conformance suite.
#include "common.cuh"

extern "C" __global__ void timestep_embedding(const void* t, int tHalf, void* y, int yHalf, int batch, int dim) {
    const int half = dim / 2;
    const i64 n = (i64)batch * dim;
    GRID_STRIDE_LOOP(i, n) {
        const int b = (int)(i / dim);
        const int j = (int)(i - (i64)b * dim);
        float v = 0.f;
        if (j < 2 * half) {
            const int k = j < half ? j : j - half;
            const float e = __fmul_rn(-9.210340371976184f, (float)k);
            const float freq = expf(__fdiv_rn(e, (float)half));
            const float arg = __fmul_rn(ldx(t, tHalf, b), freq);
            v = j < half ? cosf(arg) : sinf(arg);
        }
        stx(y, yHalf, i, v);
    }
}
