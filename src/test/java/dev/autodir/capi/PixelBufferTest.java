package dev.autodir.capi;

import dev.autodir.image.Quantization;
import dev.autodir.image.RgbImage;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The C API's buffer layouts: levels as image files convert them, strides honoured, padding untouched, sizes checked. */
class PixelBufferTest {
    static final int W = 5, H = 3;

    @Test
    void rgb8WithPaddedRowsReadsAndWritesTheLevelsOfImageFiles() {
        int stride = 3 * W + 7;
        ByteBuffer b = ByteBuffer.allocateDirect(stride * H);
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < b.capacity(); i++) b.put(i, (byte) r.nextInt(256));
        ByteBuffer before = copy(b);
        RgbImage image = PixelBuffer.of("input", 1, W, H, stride, 0, b).toImage();
        assertEquals(Quantization.fromUint8(b.get(stride + 3 * 2 + 1) & 0xFF), image.get(1, 1, 2), "G at row 1, column 2");
        assertEquals(8, image.sourceBitDepth());

        ByteBuffer out = ByteBuffer.allocateDirect(stride * H);
        for (int i = 0; i < out.capacity(); i++) out.put(i, (byte) 0xAB);
        PixelBuffer.of("output", 1, W, H, stride, 0, out).write(image.toTensor());
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < stride; x++) {
                int i = y * stride + x;
                // the official truncation: reading level v and writing it back gives v, or v - 1 for v in 1..63
                int v = before.get(i) & 0xFF;
                if (x < 3 * W) assertEquals(Quantization.toUint8(Quantization.fromUint8(v)), out.get(i) & 0xFF, "level at row " + y + ", byte " + x);
                else assertEquals((byte) 0xAB, out.get(i), "padding at row " + y + ", byte " + x + " untouched");
            }
        }
    }

    @Test
    void rgb16AndFloatPlanesKeepTheValues() {
        FloatTensor image = random(2);
        ByteBuffer b16 = ByteBuffer.allocate(6 * W * H);
        PixelBuffer p16 = PixelBuffer.of("output", 2, W, H, 6L * W, 0, b16);
        p16.write(image);
        float[] back = p16.toImage().toChwArray(), want = image.data();
        for (int i = 0; i < want.length; i++) {
            assertEquals(Quantization.fromUint16(Quantization.toUint16(want[i])), back[i], 0f, "16-bit sample " + i);
        }

        long plane = 4L * W * H + 12;
        ByteBuffer f = ByteBuffer.allocate((int) (3 * plane));
        PixelBuffer pf = PixelBuffer.of("output", 3, W, H, 4L * W, plane, f);
        pf.write(image);
        assertEquals((want[W * H + 2 * W + 3] + 1f) / 2f, f.order(ByteOrder.nativeOrder()).getFloat((int) (plane + 4 * (2 * W + 3))), 0f,
                "G at row 2, column 3 of the float planes, in [0, 1]");
        double e = new FloatTensor(pf.toImage().toChwArray(), want.length).relL2(new FloatTensor(want, want.length));
        assertTrue(e <= 1e-7, "float planes round trip: rel L2 " + e + " (fp32: one rounding of (x+1)/2 and back)");
    }

    @Test
    void wrongLayoutsAreRejectedNamingTheProblem() {
        ByteBuffer b = ByteBuffer.allocate(3 * W * H);
        assertMessage(() -> PixelBuffer.of("input", 1, W, H, 3L * W, 0, ByteBuffer.allocate(3 * W * H - 1)),
                "input: 5x3 RGB8 with stride 15 needs 45 bytes, but the buffer has 44");
        assertMessage(() -> PixelBuffer.of("input", 1, W, H, 3L * W - 1, 0, b), "stride 14 is less than a row");
        assertMessage(() -> PixelBuffer.of("input", 3, W, H, 4L * W, 4L * W * H - 1, ByteBuffer.allocate(1000)), "plane stride 59");
        assertMessage(() -> PixelBuffer.of("input", 0, W, H, 3L * W, 0, b), "unknown pixel format 0");
        assertMessage(() -> PixelBuffer.of("input", 1, 0, H, 3L * W, 0, b), "image size 0x3 is not positive");
        assertMessage(() -> PixelBuffer.of("input", 1, 20000, 1, 60000, 0, ByteBuffer.allocate(60000)), "over the limits");
        assertMessage(() -> PixelBuffer.of("output", 1, W, H, 3L * W, 0, b).write(new FloatTensor(new float[3 * 4 * 4], 1, 3, 4, 4)),
                "the buffer is 5x3 but the restored image is 4x4");
    }

    private static void assertMessage(Runnable r, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(expected), "\"" + e.getMessage() + "\" does not contain \"" + expected + "\"");
    }

    private static FloatTensor random(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] d = new float[3 * W * H];
        for (int i = 0; i < d.length; i++) d[i] = (float) (2 * r.nextDouble() - 1);
        return new FloatTensor(d, 1, 3, H, W);
    }

    private static ByteBuffer copy(ByteBuffer b) {
        ByteBuffer c = ByteBuffer.allocate(b.capacity());
        for (int i = 0; i < b.capacity(); i++) c.put(i, b.get(i));
        return c;
    }
}
