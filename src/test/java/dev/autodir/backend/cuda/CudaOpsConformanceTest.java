package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.backend.Ops;
import dev.autodir.backend.OpsConformanceTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * The conformance suite on the cuda backend in float32 storage, at the suite's own tolerance (relative L2 1e-5).
 * Where no GPU is usable every test is reported skipped with the probe's reason.
 */
public class CudaOpsConformanceTest extends OpsConformanceTest {
    @Override
    protected Ops createOps() {
        return CudaAvailability.usable() ? new CudaOps(CudaOps.Options.defaults(precision()).withFeatures(features())) : null;
    }

    /** The storage precision under test ({@link CudaOpsFp16ConformanceTest} overrides it). */
    Precision precision() { return Precision.FP32; }

    /** The unverified fast paths this suite runs (none; {@link CudaOpsConformanceUnverifiedTest} turns all on). */
    Features features() { return Features.NONE; }

    /** Ids and row indices are read on the device: out of range gives a zero row, not an error. */
    @Override
    protected boolean rejectsIndicesOutOfRange() { return false; }

    @BeforeEach
    void needsGpu() {
        CudaTestSupport.assumeGpu();
    }

    /** Each case's tensors are transient: free them so the arena does not grow over the whole class. */
    @AfterEach
    void endStage() {
        if (ops != null) ops.endStage();
    }
}
