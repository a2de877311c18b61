package dev.autodir.backend.cuda;

/** The FP16 conformance suite with every {@link Features} path on (the paths not yet run on a GPU). */
public class CudaOpsFp16ConformanceUnverifiedTest extends CudaOpsFp16ConformanceTest {
    @Override Features features() { return Features.ALL; }
}
