package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;

/** {@link CudaOpsTest} with FP16 storage (relative L2 2e-3 on FP16-rounded inputs; conversions bit-exact). */
class CudaOpsFp16Test extends CudaOpsTest {
    @Override Precision precision() { return Precision.FP16; }
}
