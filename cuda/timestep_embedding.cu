// timestep_embedding.cu — ldm's sinusoidal timestep embedding: t [B] (fractional) -> y [B, dim],
//   half = dim / 2, freq_i = exp(-ln(10000) * i / half), y[b, i] = cos(t_b * freq_i),
//   y[b, half + i] = sin(t_b * freq_i) (cos first); an odd dim gets a zero last column (ldm pads it).
// Every step is one float32 operation in torch's order: (-ln(10000) as float32 * i) / half, exp, t * freq,
// cos / sin, each rounded once to float32 (exp / cos / sin evaluated in double: arguments reach ~1000 rad,
// where float32 library functions differ from a CPU by up to 1e-4). t may be float32 even when
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
            // exp, cos and sin in double, rounded once to float: the correctly rounded float32 result that a
            // CPU reference gets, where expf / cosf (2 ulp) would move cos(t*freq) by ~1e-4 at t ~ 1000
            const float freq = (float)exp((double)__fdiv_rn(e, (float)half));
            const float arg = __fmul_rn(ldx(t, tHalf, b), freq);
            v = j < half ? (float)cos((double)arg) : (float)sin((double)arg);
        }
        stx(y, yHalf, i, v);
    }
}
