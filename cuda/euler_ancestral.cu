// euler_ancestral.cu — one k-diffusion sample_euler_ancestral update, in its float32 order:
//   d = (z - denoised) / sigma;  z' = z + d * (sigmaDown - sigma);  if noise: z' = z' + noise * sigmaUp.
// Each operation rounded separately (no FMA contraction; IEEE division), matching PyTorch's CPU kernels,
// so the float32 result is bit-exact against a Java float loop. dt = sigmaDown - sigma is formed on the device
// in float32 like torch does with the two sigma tensors. noise may be null (hasNoise = 0, the last step).
// Inputs may be float32 or float16 (flags): with an FP16 backend the sampler state can stay float32.
// Launch: 1-D grid-stride over n, blockDim 256.
// Checked by: CudaOpsTest.eulerAncestralStep (exact equality in FP32) and the conformance suite.
#include "common.cuh"

extern "C" __global__ void euler_ancestral(const void* z, int zH, const void* den, int dH, const void* noise, int nH,
                                           int hasNoise, void* y, int yH, i64 n,
                                           float sigma, float sigmaDown, float sigmaUp) {
    const float dt = __fsub_rn(sigmaDown, sigma);
    GRID_STRIDE_LOOP(i, n) {
        const float zi = ldx(z, zH, i);
        const float d = __fdiv_rn(__fsub_rn(zi, ldx(den, dH, i)), sigma);
        float r = __fadd_rn(zi, __fmul_rn(d, dt));
        if (hasNoise) r = __fadd_rn(r, __fmul_rn(ldx(noise, nH, i), sigmaUp));
        stx(y, yH, i, r);
    }
}
