package dev.autodir.backend.cuda;

/** The float32 conformance suite with every {@link Features} path on (the paths not yet run on a GPU). */
public class CudaOpsConformanceUnverifiedTest extends CudaOpsConformanceTest {
    @Override Features features() { return Features.ALL; }
}
