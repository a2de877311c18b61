package dev.autodir.image;

import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Interleaved RGB buffers and BufferedImages in and out: the same levels as image files, checked sizes. */
class RgbBytesTest {
    @Test
    void bytesReadAsTheirLevelsAndWriteBackTheOfficialTruncation() {
        // 2x1: (10, 20, 30), (255, 0, 128), row stride 8 (2 padding bytes)
        ByteBuffer b = ByteBuffer.wrap(new byte[] {10, 20, 30, (byte) 255, 0, (byte) 128, 99, 99});
        RgbImage img = new RgbBytes(b, 2, 1, 8).toImage();
        assertEquals(8, img.sourceBitDepth());
        assertArrayEquals(new float[] {TestImages.expected8(10), TestImages.expected8(255), TestImages.expected8(20),
                TestImages.expected8(0), TestImages.expected8(30), TestImages.expected8(128)}, img.toChwArray());
        float[] chw = {-1f, 1f, 0f, 0.5f, 2f, Float.NaN};              // R plane, G plane, B plane
        RgbBytes out = new RgbBytes(ByteBuffer.allocate(8), 2, 1, 8).write(new FloatTensor(chw, 1, 3, 1, 2));
        byte[] got = new byte[6];
        out.buffer().get(0, got);
        assertArrayEquals(new byte[] {0, (byte) Quantization.toUint8(0f), (byte) 255, (byte) 255, (byte) Quantization.toUint8(0.5f), 0}, got);
    }

    @Test
    void badSizesStridesAndReadOnlyBuffersNameTheProblem() {
        ByteBuffer small = ByteBuffer.allocate(10);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new RgbBytes(small, 2, 2, 6));
        assertEquals("2x2 RGB with stride 6 needs 12 bytes from the buffer's position, but 10 remain", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new RgbBytes(ByteBuffer.allocate(100), 4, 2, 11));
        assertEquals("stride 11 is less than 3 bytes x width 4 = 12", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new RgbBytes(ByteBuffer.allocate(100), 0, 2, 6));
        RgbBytes readOnly = new RgbBytes(ByteBuffer.allocate(6).asReadOnlyBuffer(), 2, 1, 6);
        e = assertThrows(IllegalArgumentException.class, () -> readOnly.write(new FloatTensor(new float[6], 1, 3, 1, 2)));
        assertEquals("the buffer is read-only", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new RgbBytes(ByteBuffer.allocate(6), 2, 1, 6)
                .write(new FloatTensor(new float[6], 1, 3, 2, 1)));
        assertEquals("image is 1x2 but the buffer holds 2x1", e.getMessage());
    }

    @Test
    void bufferedImagesConvertLikeFilesAlphaDroppedGreyExpandedSixteenBitsKept() {
        BufferedImage argb = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
        argb.setRGB(0, 0, 0x10_40_80_C0);                              // alpha 0x10 is dropped, not composited
        argb.setRGB(1, 0, 0xFF_FF_00_01);
        RgbImage a = RgbImage.of(argb);
        assertArrayEquals(new float[] {TestImages.expected8(0x40), TestImages.expected8(0xFF), TestImages.expected8(0x80),
                TestImages.expected8(0), TestImages.expected8(0xC0), TestImages.expected8(1)}, a.toChwArray());

        BufferedImage grey = new BufferedImage(1, 1, BufferedImage.TYPE_BYTE_GRAY);
        grey.getRaster().setSample(0, 0, 0, 77);
        assertArrayEquals(new float[] {TestImages.expected8(77), TestImages.expected8(77), TestImages.expected8(77)},
                RgbImage.of(grey).toChwArray());

        float[] values = {-0.3f, 0.123456f, 0.9f, -1f, 0.5f, 0.77777f};
        FloatTensor t = new FloatTensor(values, 1, 3, 1, 2);
        RgbImage deep = RgbImage.of(RgbImageWriter.toBufferedImage(t, 16));
        assertEquals(16, deep.sourceBitDepth());
        float[] back = deep.toChwArray();
        for (int i = 0; i < values.length; i++) {
            assertEquals(Quantization.fromUint16(Quantization.toUint16(values[i])), back[i], 0f, "sample " + i + ": the 16-bit level is kept");
        }
        assertTrue(deep.toBufferedImage().getColorModel().getComponentSize(0) == 16);
        assertThrows(IllegalArgumentException.class, () -> RgbImageWriter.toBufferedImage(t, 12));
    }
}
