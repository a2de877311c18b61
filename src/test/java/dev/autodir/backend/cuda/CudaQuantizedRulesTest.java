package dev.autodir.backend.cuda;

import dev.autodir.quant.Calibration;
import dev.autodir.quant.QuantFormat;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The refusals of the cuda INT8/FP8 path, without a GPU: cuBLASLt's documented shape and alignment rules
 * ({@link QuantGemm}), which layers stay FP16 and why ({@link CudaQuantizedOps#keptFp16}), FP8 below compute
 * capability 8.9, a missing calibration, and the byte packing of the uploads.
 */
class CudaQuantizedRulesTest {
    @Test
    void cublasLtAlignmentRulesPerFormat() {
        assertNull(QuantGemm.unsupported(QuantFormat.INT8, 32, 12));
        assertNull(QuantGemm.unsupported(QuantFormat.FP8_E4M3, 320, 1280));
        String int8 = QuantGemm.unsupported(QuantFormat.INT8, 32, 30);
        assertTrue(int8 != null && int8.contains("multiples of 4") && int8.contains("30 in"), int8);
        String fp8 = QuantGemm.unsupported(QuantFormat.FP8_E4M3, 32, 40);        // fine for INT8, not for FP8
        assertNull(QuantGemm.unsupported(QuantFormat.INT8, 32, 40));
        assertTrue(fp8 != null && fp8.contains("multiples of 16"), fp8);
        assertNotNull(QuantGemm.unsupported(QuantFormat.FP8_E4M3, 24, 32), "output features (m) must be multiples of 16 too");
    }

    @Test
    void theProductRecordRefusesWhatCublasLtWouldRefuse() {
        new QuantGemm(QuantFormat.INT8, 32, 77, 64, 64, 64, 32);                  // n (tokens) is free: 77 context tokens
        assertThrows(IllegalArgumentException.class, () -> new QuantGemm(QuantFormat.INT8, 32, 5, 30, 30, 30, 32));   // k % 4
        assertThrows(IllegalArgumentException.class, () -> new QuantGemm(QuantFormat.FP8_E4M3, 32, 5, 40, 40, 40, 32)); // k % 16
        assertThrows(IllegalArgumentException.class, () -> new QuantGemm(QuantFormat.INT8, 32, 5, 64, 32, 64, 32));    // lda < k
        assertThrows(IllegalArgumentException.class, () -> new QuantGemm(QuantFormat.FP8_E4M3, 32, 5, 64, 72, 64, 32)); // lda % 16
        assertThrows(IllegalArgumentException.class, () -> new QuantGemm(QuantFormat.INT8, 32, 5, 64, 64, 64, 34));    // ldd % 4
        assertThrows(IllegalArgumentException.class, () -> new QuantGemm(QuantFormat.INT8, 32, 0, 64, 64, 64, 32));
        QuantGemm.checkAddresses(256, 512, 4096);
        assertThrows(IllegalArgumentException.class, () -> QuantGemm.checkAddresses(256, 520, 4096));
    }

    @Test
    void fp8NeedsComputeCapability89AndSaysWhichGpuHasLess() {
        String why = CudaQuantizedOps.unsupportedDevice(QuantFormat.FP8_E4M3, 8, 6, "NVIDIA RTX A6000");
        assertTrue(why != null && why.contains("8.9") && why.contains("NVIDIA RTX A6000") && why.contains("8.6"), why);
        assertNotNull(CudaQuantizedOps.unsupportedDevice(QuantFormat.FP8_E4M3, 8, 0, "NVIDIA A100"));
        assertNull(CudaQuantizedOps.unsupportedDevice(QuantFormat.FP8_E4M3, 8, 9, "NVIDIA L4"));
        assertNull(CudaQuantizedOps.unsupportedDevice(QuantFormat.FP8_E4M3, 9, 0, "NVIDIA H200"));
        assertNull(CudaQuantizedOps.unsupportedDevice(QuantFormat.INT8, 8, 0, "NVIDIA A100"));
    }

    @Test
    void aQuantizedEngineWithoutCalibrationIsRefusedBeforeTheGpuIsTouched() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaQuantizedOps.open(null, QuantFormat.INT8, new PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().contains("calibration"), e.getMessage());
    }

    @Test
    void whichCalibratedLayersStayFp16() {
        Calibration.Layer conv = new Calibration.Layer("conv2d", 3, 3, 10, null), lin = new Calibration.Layer("linear", 3, 3, 10, new double[64]);
        assertNull(CudaQuantizedOps.keptFp16(QuantFormat.INT8, "a", conv, new int[] {64, 32, 1, 1}, true, true));
        assertNull(CudaQuantizedOps.keptFp16(QuantFormat.FP8_E4M3, "a", lin, new int[] {32, 64}, false, false));
        assertTrue(CudaQuantizedOps.keptFp16(QuantFormat.INT8, "a", conv, new int[] {64, 32, 3, 3}, true, true).startsWith("not a 1x1"));
        assertTrue(CudaQuantizedOps.keptFp16(QuantFormat.INT8, "a", conv, new int[] {64, 32, 1, 1}, true, false).startsWith("not a 1x1"),
                "a strided, padded or grouped 1x1 convolution stays FP16");
        assertTrue(CudaQuantizedOps.keptFp16(QuantFormat.FP8_E4M3, "a", conv, new int[] {64, 8, 1, 1}, true, true).startsWith("cuBLASLt"),
                "SCM/VAE-style 8-channel inputs cannot take the FP8 kernels");
        Calibration.Layer smoothConv = new Calibration.Layer("conv2d", 3, 3, 10, new double[32]);
        assertTrue(CudaQuantizedOps.keptFp16(QuantFormat.INT8, "a", smoothConv, new int[] {64, 32, 1, 1}, true, true).contains("SmoothQuant"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaQuantizedOps.keptFp16(QuantFormat.INT8, "b.weight", lin, new int[] {32, 48}, false, false));
        assertTrue(e.getMessage().contains("b.weight") && e.getMessage().contains("64 SmoothQuant factors"), e.getMessage());
    }

    @Test
    void uploadsPackBytesAndDoublesLittleEndian() {
        assertArrayEquals(new int[] {0x04030201, 0x000000ff}, CudaQuantizedOps.packBytes(new byte[] {1, 2, 3, 4, -1}));
        long bits = Double.doubleToRawLongBits(1.5);
        assertArrayEquals(new int[] {(int) bits, (int) (bits >>> 32)}, CudaQuantizedOps.packDoubles(new double[] {1.5}));
        assertEquals(0, CudaQuantizedOps.packBytes(new byte[0]).length);
    }
}
