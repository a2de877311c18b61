package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;

/** {@link CudaOpsTest} with float32 storage (relative L2 1e-5; sampler updates bit-exact). */
class CudaOpsFp32Test extends CudaOpsTest {
    @Override Precision precision() { return Precision.FP32; }
}
