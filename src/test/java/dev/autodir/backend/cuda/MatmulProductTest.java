package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Runs, without a GPU, the cuBLASLt call {@code CudaOps.matmul} makes ({@link CudaOps#matmulProduct}: the row-major
 * product as a column-major one, operands swapped, leading dimensions) through the float64 emulation of
 * {@link Matmul.Gemm}'s documented semantics ({@link AttentionProductsTest.Emulator}), against the cpu backend's
 * matmul at relative L2 1e-6 (float64 sums against float32 ones of at most 300 terms). What this cannot check:
 * cuBLASLt itself (the device runs the conformance suite's matmul).
 */
class MatmulProductTest {
    @ParameterizedTest(name = "[{0}, {2}] x [{2}, {1}]")
    @CsvSource({
            "1, 300, 8",      // BIQA's mix: probabilities [1, K] times the prompts' hidden states [K, T·D] (small)
            "5, 7, 3",        // nothing square
            "8, 1, 16",       // a column
            "13, 29, 300",    // a longer reduction
    })
    void theCallComputesTheRowMajorProduct(int m, int n, int k) {
        FloatTensor a = random(1 + m, m, k), b = random(2 + n, k, n);
        AttentionProductsTest.Memory mem = new AttentionProductsTest.Memory();
        long aa = mem.add("a", a.data().clone(), Precision.FP32), ba = mem.add("b", b.data().clone(), Precision.FP32);
        float[] y = new float[m * n];
        Arrays.fill(y, Float.NaN);   // every element must be written
        long ya = mem.add("y", y, Precision.FP32);
        AttentionProductsTest.Emulator e = new AttentionProductsTest.Emulator(mem);
        CudaOps.matmulProduct(e, Precision.FP32, aa, ba, ya, m, n, k);
        assertEquals(1, e.gemms, "one product");
        try (CpuOps cpu = new CpuOps(1, false)) {
            assertClose("matmul call (emulated)", new FloatTensor(y, m, n), (FloatTensor) cpu.matmul(a, b), 1e-6);
        }
    }
}
