package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_FFT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_TENSOR_CORE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_WINOGRAD;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the graph-API convolution writes into cuDNN's descriptors, per key; no native library needed. */
class CudnnGraphParametersTest {
    private static Convolution.Key key(int b, int cin, int h, int w, int cout, int k, int stride, int pad, int groups) {
        return new Convolution.Key(Precision.FP16, b, cin, h, w, cout, k, k, stride, pad, groups);
    }

    @Test
    void theUNetConvolutionAsPackedNchwInt64Arrays() {
        CudnnGraphParameters g = CudnnGraphParameters.of(key(2, 320, 64, 64, 320, 3, 1, 1, 1));
        assertArrayEquals(new long[] {2, 320, 64, 64}, g.xDims());
        assertArrayEquals(new long[] {320 * 64 * 64, 64 * 64, 64, 1}, g.xStrides());
        assertArrayEquals(new long[] {320, 320, 3, 3}, g.wDims());
        assertArrayEquals(new long[] {320 * 9, 9, 3, 1}, g.wStrides());
        assertArrayEquals(new long[] {2, 320, 64, 64}, g.yDims());
        assertArrayEquals(new long[] {320 * 64 * 64, 64 * 64, 64, 1}, g.yStrides());
        assertArrayEquals(new long[] {1, 1}, g.prePaddings());
        assertArrayEquals(new long[] {1, 1}, g.postPaddings());
        assertArrayEquals(new long[] {1, 1}, g.filterStrides());
        assertArrayEquals(new long[] {1, 1}, g.dilations());
        assertEquals(64, g.ho());
        assertEquals(64, g.wo());
    }

    @ParameterizedTest(name = "{1}x{2} k{3} s{4} p{5} -> {6}x{7}")
    @CsvSource({
            "1, 17, 13, 3, 2, 1, 9, 7",     // stride 2, odd sizes: floor((17 + 2 - 3) / 2) + 1 = 9, floor((13 + 2 - 3) / 2) + 1 = 7
            "1, 9, 11, 3, 1, 0, 7, 9",      // padding 0
            "2, 12, 9, 2, 2, 1, 7, 5",      // 2x2, stride 2, padding 1
            "1, 10, 10, 1, 2, 0, 5, 5",     // 1x1, stride 2
            "1, 3, 3, 3, 1, 0, 1, 1",       // exactly one output pixel
    })
    void outputSizesFollowTheCrossCorrelationFormula(int batch, int h, int w, int k, int stride, int pad, int ho, int wo) {
        CudnnGraphParameters g = CudnnGraphParameters.of(key(batch, 8, h, w, 16, k, stride, pad, 1));
        assertArrayEquals(new long[] {batch, 16, ho, wo}, g.yDims());
        assertArrayEquals(new long[] {16L * ho * wo, (long) ho * wo, wo, 1}, g.yStrides());
        assertArrayEquals(new long[] {pad, pad}, g.prePaddings());
        assertArrayEquals(new long[] {pad, pad}, g.postPaddings(), "symmetric padding: post equals pre");
        assertArrayEquals(new long[] {stride, stride}, g.filterStrides());
    }

    @Test
    void groupsShowOnlyInTheWeightsChannelDimension() {
        CudnnGraphParameters g = CudnnGraphParameters.of(key(1, 64, 16, 16, 32, 3, 1, 1, 4));
        assertArrayEquals(new long[] {1, 64, 16, 16}, g.xDims());
        assertArrayEquals(new long[] {32, 16, 3, 3}, g.wDims(), "Cin / groups = 16: cuDNN infers G = 64 / 16 = 4");
        assertArrayEquals(new long[] {16 * 9, 9, 3, 1}, g.wStrides());
        CudnnGraphParameters depthwise = CudnnGraphParameters.of(key(1, 64, 16, 16, 64, 3, 1, 1, 64));
        assertArrayEquals(new long[] {64, 1, 3, 3}, depthwise.wDims());
    }

    @Test
    void accessorsHandOutCopies() {
        CudnnGraphParameters g = CudnnGraphParameters.of(key(1, 8, 8, 8, 8, 3, 1, 1, 1));
        g.xDims()[0] = 99;
        g.prePaddings()[0] = 99;
        assertEquals(1, g.xDims()[0]);
        assertEquals(1, g.prePaddings()[0]);
    }

    @Test
    void packedStridesOfAnyRank() {
        assertArrayEquals(new long[] {60, 20, 5, 1}, CudnnGraphParameters.packedStrides(new long[] {2, 3, 4, 5}));
        assertArrayEquals(new long[] {1}, CudnnGraphParameters.packedStrides(new long[] {7}));
        assertThrows(ArithmeticException.class, () -> CudnnGraphParameters.packedStrides(new long[] {2, 1L << 32, 1L << 32, 1L << 32}),
                "a stride beyond int64 is an error, not a wrapped value");
    }

    @Test
    void keysTheGraphPathCannotTakeAreRefusedWithTheReason() {
        IllegalArgumentException fp32 = assertThrows(IllegalArgumentException.class,
                () -> CudnnGraphParameters.of(new Convolution.Key(Precision.FP32, 1, 8, 8, 8, 8, 3, 3, 1, 1, 1)));
        assertTrue(fp32.getMessage().contains("FP16 only, got FP32"), fp32.getMessage());
        IllegalArgumentException groups = assertThrows(IllegalArgumentException.class, () -> CudnnGraphParameters.of(key(1, 10, 8, 8, 8, 3, 1, 1, 4)));
        assertTrue(groups.getMessage().contains("groups 4"), groups.getMessage());
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> CudnnGraphParameters.of(key(1, 8, 2, 2, 8, 3, 1, 0, 1)));
        assertTrue(empty.getMessage().contains("empty output"), empty.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CudnnGraphParameters.of(key(1, 8, 8, 8, 8, 3, 0, 1, 1)), "stride 0");
        assertThrows(IllegalArgumentException.class, () -> CudnnGraphParameters.of(key(1, 8, 8, 8, 8, 3, 1, -1, 1)), "negative padding");
    }

    @Test
    void numericalNotesThatBreakTheFloatAccumulationPromiseAreRefused() {
        assertNull(CudnnGraphParameters.unsuitable(new int[0]));
        assertNull(CudnnGraphParameters.unsuitable(new int[] {CUDNN_NUMERICAL_NOTE_TENSOR_CORE}));
        assertNull(CudnnGraphParameters.unsuitable(new int[] {CUDNN_NUMERICAL_NOTE_TENSOR_CORE, CUDNN_NUMERICAL_NOTE_WINOGRAD,
                CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4, CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC}), "Winograd is allowed in FP16, as on the legacy path");
        assertEquals("FFT", CudnnGraphParameters.unsuitable(new int[] {CUDNN_NUMERICAL_NOTE_TENSOR_CORE, CUDNN_NUMERICAL_NOTE_FFT}));
        assertEquals("reduced-precision reduction", CudnnGraphParameters.unsuitable(new int[] {CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION}));
        assertEquals("down-converted inputs", CudnnGraphParameters.unsuitable(new int[] {CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS}));
    }
}
