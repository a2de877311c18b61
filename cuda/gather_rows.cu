// gather_rows.cu — y[i, c] = table[index[i] + (i / groupRows) * groupStride, c] for i < rows, c < C (table [V', C]),
// with y[i, :] = 0 where index[i] is outside [0, bound) (device ids cannot throw; the cpu backend does).
// Ops.embedding: index = the int32 token ids [B*N], groupRows = rows, groupStride 0, bound = V.
// Ops.gatherRows: table = x viewed as [B*N, C], index = rows [B], groupRows 1, groupStride N, bound = N.
// Launch: 1-D grid-stride over rows*C, blockDim 256.
// Checked by: GraphKernelsEmulationTest (host emulation against the cpu backend), CudaOpsTest.embeddingAndGather and
// the conformance suite.
#include "common.cuh"

extern "C" __global__ void gather_rows(const void* table, int tHalf, const int* index, void* y, int yHalf,
                                       i64 rows, int C, i64 groupRows, i64 groupStride, i64 bound) {
    const i64 n = rows * C;
    GRID_STRIDE_LOOP(i, n) {
        const i64 r = i / C;
        const i64 c = i - r * C;
        const i64 id = index[r];
        const float v = id >= 0 && id < bound ? ldx(table, tHalf, (id + (r / groupRows) * groupStride) * C + c) : 0.f;
        stx(y, yHalf, i, v);
    }
}
