// cfg_combine.cu — AutoDIR's three-branch classifier-free guidance (official CFGDenoiser):
//   y = uncond + sText * (cond - imgCond) + sImg * (imgCond - uncond), evaluated left to right in float32
//   with every product and sum rounded separately (__fmul_rn / __fadd_rn: no FMA contraction), which is
//   what PyTorch's elementwise CPU ops do, so the float32 result is bit-exact against a Java float loop.
// Inputs may be float32 or float16 (flags); the output dtype is chosen by the host (float32 if any input is).
// Launch: 1-D grid-stride over n, blockDim 256.
// Checked by: CudaOpsTest.cfgCombine (exact equality in FP32) and the conformance suite.
#include "common.cuh"

extern "C" __global__ void cfg_combine(const void* cond, int cH, const void* imgCond, int iH, const void* uncond, int uH,
                                       void* y, int yH, i64 n, float sText, float sImg) {
    GRID_STRIDE_LOOP(i, n) {
        const float c = ldx(cond, cH, i), ic = ldx(imgCond, iH, i), u = ldx(uncond, uH, i);
        const float a = __fadd_rn(u, __fmul_rn(sText, __fsub_rn(c, ic)));
        stx(y, yH, i, __fadd_rn(a, __fmul_rn(sImg, __fsub_rn(ic, u))));
    }
}
