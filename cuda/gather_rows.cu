// gather_rows.cu — y[i, c] = table[index[i], c] for i < rows, c < C (table [V, C]).
// Ops.embedding (index = the token ids, flattened [B*N]) and Ops.gatherRows (table = x viewed as [B*N, C],
// index[b] = b*N + rows[b]). Indices are validated on the host before upload (an id outside [0, V) throws there).
// Launch: 1-D grid-stride over rows*C, blockDim 256.
// Checked by: CudaOpsTest.embeddingAndGather against Java loops, and the conformance suite.
#include "common.cuh"

extern "C" __global__ void gather_rows(const void* table, int tHalf, const int* index, void* y, int yHalf,
                                       i64 rows, int C) {
    const i64 n = rows * C;
    GRID_STRIDE_LOOP(i, n) {
        const i64 r = i / C;
        const i64 c = i - r * C;
        stx(y, yHalf, i, ldx(table, tHalf, (i64)index[r] * C + c));
    }
}
