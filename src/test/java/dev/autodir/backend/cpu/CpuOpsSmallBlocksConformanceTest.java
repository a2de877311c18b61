package dev.autodir.backend.cpu;

import dev.autodir.backend.Ops;
import dev.autodir.backend.OpsConformanceTest;

/**
 * The whole conformance suite again on a cpu backend with tiny blocks and no minimum work per thread:
 * at the suite's small sizes every convolution then runs in bands, every attention in blocks of
 * queries, and every loop and matrix product split over two workers.
 */
class CpuOpsSmallBlocksConformanceTest extends OpsConformanceTest {
    @Override protected Ops createOps() { return new CpuOps(2, true, 200, 40, 48, 5, 1); }
}
