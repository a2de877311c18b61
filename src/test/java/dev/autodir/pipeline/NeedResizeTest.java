package dev.autodir.pipeline;

import dev.autodir.image.Quantization;
import dev.autodir.image.RgbImageReader;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --need-resize against PIL itself (src/test/python/need_resize_oracle.py: the official script's arithmetic, PIL 9.4's
 * ImageOps.fit with Lanczos, the centre crop), at resolution 64 on images that are upscaled, cropped to another aspect
 * ratio first, or only cut. PIL works in 22-bit fixed point and rounds to 8 bits after each pass, which the engine
 * repeats: every 8-bit level must be equal (measured: all are).
 */
class NeedResizeTest {
    static final Path FIXTURES = Path.of("src", "test", "resources", "oracle", "need_resize");

    @ParameterizedTest(name = "case {0}")
    @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6})
    void matchesPil(int k) {
        FloatTensor in = RgbImageReader.read(FIXTURES.resolve("case_" + k + "_input.png")).toTensor();
        FloatTensor expected = RgbImageReader.read(FIXTURES.resolve("case_" + k + "_expected.png")).toTensor();
        FloatTensor got = NeedResize.apply(in, 64);
        assertArrayEquals(expected.shape(), got.shape());
        int off = 0;
        for (int i = 0; i < got.numel(); i++) if (level(got.data()[i]) != level(expected.data()[i])) off++;
        assertEquals(0, off, "case " + k + ": levels differing from PIL's, of " + got.numel());
    }

    @Test
    void theCoverSizeIsTheOfficialArithmetic() {
        assertArrayEquals(new int[] {1152, 768}, NeedResize.coverSize(600, 400, 768));
        assertArrayEquals(new int[] {768, 2048}, NeedResize.coverSize(300, 800, 768));
        assertArrayEquals(new int[] {256, 64}, NeedResize.coverSize(200, 45, 64));
    }

    @Test
    void largeImagesAreOnlyCutAtTheCentre() {
        int h = 70, w = 90;
        float[] d = new float[3 * h * w];
        for (int i = 0; i < d.length; i++) d[i] = Quantization.fromUint8(i % 251);
        FloatTensor out = NeedResize.apply(new FloatTensor(d, 1, 3, h, w), 64);
        int top = (h - 64) / 2, left = (w - 64) / 2;
        for (int c = 0; c < 3; c++) {
            assertEquals(d[(c * h + top) * w + left], out.data()[c * 64 * 64], "the window's first pixel");
            assertEquals(d[(c * h + top + 63) * w + left + 63], out.data()[c * 64 * 64 + 63 * 64 + 63], "the window's last pixel");
        }
    }

    @Test
    void aThinImageWhoseCoverWouldBeHugeIsRefusedBeforeAnyWork() {
        // 16 x 16384: the short side scaled to 768 makes the cover 768 x 786432, far over 100 megapixels
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NeedResize.checkCover(16, 16384, 768));
        assertTrue(e.getMessage().contains("16x16384") && e.getMessage().contains("768x786432") && e.getMessage().contains("limits"),
                e.getMessage());
        NeedResize.checkCover(600, 400, 768);                                  // 1152 x 768: fine
        NeedResize.checkCover(20000, 20000, 768);                              // only cut: no cover image
        assertThrows(IllegalArgumentException.class, () -> NeedResize.apply(FloatTensor.zeros(1, 3, 16384, 16), 768));
    }

    @Test
    void badResolutionsAreNamed() {
        FloatTensor img = FloatTensor.zeros(1, 3, 8, 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NeedResize.apply(img, 10));
        assertTrue(e.getMessage().contains("resolution") && e.getMessage().contains("10"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> RestoreOptions.defaults().withResize(20));
        assertEquals(768, RestoreOptions.defaults().withResize(RestoreOptions.OFFICIAL_RESOLUTION).resize());
    }

    private static int level(float v) { return (int) Math.round((v + 1.0) * 255.0 / 2.0); }
}
