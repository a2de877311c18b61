package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.model.VAEOddSizesTest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The VAE encoder on sizes that are not multiples of its factor, on the cuda backend (FP32), against ldm's own module
 * ({@link VAEOddSizesTest}'s fixtures): the same network code through the backend's pad2d (window kernel) and conv2d
 * (cuDNN, or im2col), whose output size is the same ⌊(H + 2p − k)/s⌋ + 1. Relative L2 ≤ 1e-5, as on the cpu.
 * Skipped, with the reason, without a usable GPU.
 */
class CudaVAEOddSizesTest {
    @BeforeAll static void gpu() { CudaTestSupport.assumeGpu(); }

    @ParameterizedTest(name = "{0} {1}x{2}")
    @CsvSource({"setA, 22, 38", "setA, 50, 66", "deep, 22, 38", "deep, 50, 66", "deep, 17, 21"})
    void encoderComputesWhatTheOfficialModuleComputes(String model, int h, int w) {
        try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(Precision.FP32))) {
            VAEOddSizesTest.check(ops, model, h, w, 1e-5);
        }
    }
}
