// argmax_rows.cu — y[r] = the first j with x[r, j] = max_j x[r, j], for x [R, N] int32 (kind 2), float32 (0) or
// FP16 (1): CLIP's pooling index (the first EOS, the largest token id) without a trip to the host.
// One thread per row scans its row in order (R and N are small: prompts × 77 tokens), so ties resolve to the first
// index as torch.argmax does. A NaN is never larger than the best so far (a NaN at index 0 stays the answer), exactly
// as the cpu backend's loop.
// Launch: 1-D grid-stride over R rows, blockDim 256.
// Checked by: GraphKernelsEmulationTest against the cpu backend's argmax.
#include "common.cuh"

extern "C" __global__ void argmax_rows(const void* x, int kind, int* y, i64 rows, int n) {
    GRID_STRIDE_LOOP(r, rows) {
        int best = 0;
        if (kind == 2) {
            const int* row = (const int*)x + r * n;
            for (int j = 1; j < n; j++) if (row[j] > row[best]) best = j;
        } else {
            float bv = ldx(x, kind, r * n);
            for (int j = 1; j < n; j++) {
                const float v = ldx(x, kind, r * n + j);
                if (v > bv) {
                    bv = v;
                    best = j;
                }
            }
        }
        y[r] = best;
    }
}
