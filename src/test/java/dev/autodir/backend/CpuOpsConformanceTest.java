package dev.autodir.backend;

import dev.autodir.backend.cpu.CpuOps;

/** The conformance suite on the cpu backend (float32: relative L2 ≤ 1e-5 per operation). */
class CpuOpsConformanceTest extends OpsConformanceTest {
    @Override protected Ops createOps() { return new CpuOps(); }
}
