package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;

/** {@link CudaOpsTest} in FP32 with every {@link Features} path on (the paths not yet run on a GPU). */
class CudaOpsFp32UnverifiedTest extends CudaOpsFp32Test {
    @Override Features features() { return Features.ALL; }
}
