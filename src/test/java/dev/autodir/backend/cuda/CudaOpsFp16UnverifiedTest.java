package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;

/** {@link CudaOpsTest} in FP16 with every {@link Features} path on (the paths not yet run on a GPU). */
class CudaOpsFp16UnverifiedTest extends CudaOpsFp16Test {
    @Override Features features() { return Features.ALL; }
}
