package dev.autodir.image;

import dev.autodir.image.RgbImageWriter.WriteOptions;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RgbImageWriterTest {
    @TempDir Path dir;
    final Random random = new Random(77);

    /** A tensor whose every value lies half a level above level v, so truncation must give v. */
    FloatTensor tensorOfLevels(int[] levels, int h, int w, float max) {
        float[] data = new float[levels.length];
        for (int i = 0; i < levels.length; i++) data[i] = ((levels[i] + 0.5f) / max) * 2f - 1f;
        return new FloatTensor(data, 1, 3, h, w);
    }

    int[] randomLevels(int n, int max) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = random.nextInt(max + 1);
        v[0] = 0;
        v[n - 1] = max;
        return v;
    }

    /** Samples of a decoded file in channel-major order, read with ImageIO directly. */
    static int[] storedSamples(Path file) throws IOException {
        BufferedImage img = ImageIO.read(file.toFile());
        Raster r = img.getRaster();
        int w = img.getWidth();
        int h = img.getHeight();
        int[] out = new int[3 * w * h];
        for (int c = 0; c < 3; c++) for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) out[(c * h + y) * w + x] = r.getSample(x, y, c);
        return out;
    }

    @Test
    void png8RoundTripKeepsEveryLevel() throws IOException {
        int h = 9;
        int w = 14;
        int[] levels = randomLevels(3 * h * w, 255);
        Path file = dir.resolve("out.png");
        Path written = RgbImageWriter.write(tensorOfLevels(levels, h, w, 255f), file, WriteOptions.DEFAULT);
        assertEquals(file.toAbsolutePath(), written);
        assertEquals(8, TestImages.pngBitDepth(file));
        assertArrayEquals(levels, storedSamples(file));

        RgbImage read = RgbImageReader.read(file);
        float[] chw = read.toChwArray();
        for (int i = 0; i < levels.length; i++) assertEquals(TestImages.expected8(levels[i]), chw[i], "value " + i);
    }

    @Test
    void png16AndTiffRoundTrips() throws IOException {
        int h = 5;
        int w = 8;
        int[] levels16 = randomLevels(3 * h * w, 65535);
        int[] levels8 = randomLevels(3 * h * w, 255);

        Path png16 = dir.resolve("out16.png");
        RgbImageWriter.write(tensorOfLevels(levels16, h, w, 65535f), png16, WriteOptions.DEFAULT.withBitDepth(16));
        assertEquals(16, TestImages.pngBitDepth(png16));
        assertArrayEquals(levels16, storedSamples(png16));
        assertEquals(16, RgbImageReader.read(png16).sourceBitDepth());

        Path tif16 = dir.resolve("out16.tif");
        RgbImageWriter.write(tensorOfLevels(levels16, h, w, 65535f), tif16, WriteOptions.DEFAULT.withBitDepth(16));
        assertEquals(16, ImageIO.read(tif16.toFile()).getSampleModel().getSampleSize(0));
        assertArrayEquals(levels16, storedSamples(tif16));

        Path tif8 = dir.resolve("out8.TIFF");
        RgbImageWriter.write(tensorOfLevels(levels8, h, w, 255f), tif8, WriteOptions.DEFAULT);
        assertEquals(8, ImageIO.read(tif8.toFile()).getSampleModel().getSampleSize(0));
        assertArrayEquals(levels8, storedSamples(tif8));
        float[] chw = RgbImageReader.read(tif8).toChwArray();
        for (int i = 0; i < levels8.length; i++) assertEquals(TestImages.expected8(levels8[i]), chw[i], "value " + i);
    }

    @Test
    void jpegQualityOptionIsUsed() throws IOException {
        int h = 64;
        int w = 64;
        int[] levels = new int[3 * h * w];
        for (int i = 0; i < levels.length; i++) levels[i] = (i * 7 + (i / 64) * 13) % 256; // busy texture
        FloatTensor t = tensorOfLevels(levels, h, w, 255f);
        Path low = RgbImageWriter.write(t, dir.resolve("low.jpg"), WriteOptions.DEFAULT.withJpegQuality(0.2f));
        Path high = RgbImageWriter.write(t, dir.resolve("high.jpeg"), WriteOptions.DEFAULT.withJpegQuality(1.0f));
        assertTrue(Files.size(high) > Files.size(low), "quality 1.0 (" + Files.size(high) + " B) vs 0.2 (" + Files.size(low) + " B)");
        assertTrue(meanAbsLevels(levels, storedSamples(high)) < meanAbsLevels(levels, storedSamples(low)));
        assertEquals(64, RgbImageReader.read(high).width());
    }

    static double meanAbsLevels(int[] a, int[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
        return s / a.length;
    }

    @Test
    void quantisationTruncatesAtTheBoundaries() throws IOException {
        float[] x = {-1f, 1f, 0f, 0.5f, -0.5f, 1f - 0x1p-22f, 3f, -3f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -1f + 0x1p-20f};
        int[] want = {0, 255, 127, 191, 63, 254, 255, 0, 0, 255, 0, 0};
        for (int i = 0; i < x.length; i++) assertEquals(want[i], Quantization.toUint8(x[i]), "toUint8(" + x[i] + ")");
        // just below and just above every level: truncation, never rounding
        for (int k = 0; k < 255; k++) {
            assertEquals(k, Quantization.toUint8(((k + 0.999f) / 255f) * 2f - 1f), "just below " + (k + 1));
            assertEquals(k, Quantization.toUint8(((k + 0.001f) / 255f) * 2f - 1f), "just above " + k);
        }
        assertEquals(32767, Quantization.toUint16(0f));
        assertEquals(65534, Quantization.toUint16(1f - 0x1p-22f));
        assertEquals(65535, Quantization.toUint16(1f));
        assertEquals(0, Quantization.toUint16(Float.NaN));

        // the finite values through the PNG writer (12 values fill a 1x3x2x2 tensor; NaN and infinities become ±3,
        // which quantise alike: the writer refuses non-finite images rather than write them black or white)
        float[] finite = x.clone();
        for (int i = 0; i < finite.length; i++) if (!Float.isFinite(finite[i])) finite[i] = Float.isNaN(finite[i]) ? -3f : Math.signum(finite[i]) * 3f;
        Path file = RgbImageWriter.write(new FloatTensor(finite, 1, 3, 2, 2), dir.resolve("edges.png"), WriteOptions.DEFAULT);
        assertArrayEquals(want, storedSamples(file));
        ImageFileException e = assertThrows(ImageFileException.class,
                () -> RgbImageWriter.write(new FloatTensor(x.clone(), 1, 3, 2, 2), dir.resolve("nan.png"), WriteOptions.DEFAULT));
        assertTrue(e.getMessage().contains("holds NaN at index 8; not writing it"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("nan.png")));
    }

    @Test
    void readingThenWritingLosesOneLevelFor1To63AsTheOfficialCodeDoes() {
        for (int v = 0; v < 256; v++) {
            int expected = v >= 1 && v <= 63 ? v - 1 : v;
            assertEquals(expected, Quantization.toUint8(Quantization.fromUint8(v)), "level " + v);
        }
    }

    @Test
    void neverReplacesAnExistingFileUnlessAsked() throws IOException {
        Path file = dir.resolve("exists.png");
        Files.writeString(file, "keep me");
        FloatTensor t = tensorOfLevels(randomLevels(12, 255), 2, 2, 255f);

        ImageFileException e = assertThrows(ImageFileException.class, () -> RgbImageWriter.write(t, file, WriteOptions.DEFAULT));
        RgbImageReaderTest.assertMessage(e, file.toAbsolutePath(), "already exists");
        assertEquals("keep me", Files.readString(file));
        assertEquals(List.of("exists.png"), listDir());

        RgbImageWriter.write(t, file, WriteOptions.DEFAULT.withOverwrite(true));
        assertEquals(2, ImageIO.read(file.toFile()).getWidth());
        assertEquals(List.of("exists.png"), listDir(), "no temporary file is left behind");
    }

    @Test
    void neverWritesOverTheInputImage() throws IOException {
        Path input = dir.resolve("input.png");
        FloatTensor t = tensorOfLevels(randomLevels(12, 255), 2, 2, 255f);
        RgbImageWriter.write(t, input, WriteOptions.DEFAULT);
        byte[] before = Files.readAllBytes(input);
        RgbImage image = RgbImageReader.read(input);

        WriteOptions overwrite = WriteOptions.DEFAULT.withOverwrite(true);
        RgbImageReaderTest.assertMessage(assertThrows(ImageFileException.class, () -> RgbImageWriter.write(image, input, overwrite)),
                input, "input image");
        Path sameFileOtherSpelling = dir.resolve("sub/../input.png");
        Files.createDirectory(dir.resolve("sub"));
        assertThrows(ImageFileException.class,
                () -> RgbImageWriter.write(t, sameFileOtherSpelling, overwrite.withProtectedInput(input)));
        Path link = Files.createSymbolicLink(dir.resolve("link.png"), input);
        assertThrows(ImageFileException.class, () -> RgbImageWriter.write(t, link, overwrite.withProtectedInput(input)));
        assertArrayEquals(before, Files.readAllBytes(input));

        // an image read from a file can be written elsewhere; as in the official code, levels 1..63 lose one
        Path other = RgbImageWriter.write(image, dir.resolve("output.png"), WriteOptions.DEFAULT);
        int[] in = storedSamples(input);
        int[] expected = new int[in.length];
        for (int i = 0; i < in.length; i++) expected[i] = in[i] >= 1 && in[i] <= 63 ? in[i] - 1 : in[i];
        assertArrayEquals(expected, storedSamples(other));
    }

    @Test
    void badRequestsAreRefusedWithTheReason() {
        FloatTensor t = tensorOfLevels(randomLevels(12, 255), 2, 2, 255f);
        Path bmp = dir.resolve("x.bmp");
        RgbImageReaderTest.assertMessage(assertThrows(ImageFileException.class, () -> RgbImageWriter.write(t, bmp, WriteOptions.DEFAULT)),
                bmp, "extension 'bmp'");
        Path jpg = dir.resolve("x.jpg");
        RgbImageReaderTest.assertMessage(assertThrows(ImageFileException.class,
                () -> RgbImageWriter.write(t, jpg, WriteOptions.DEFAULT.withBitDepth(16))), jpg, "8-bit only");
        Path nowhere = dir.resolve("no/such/dir/x.png");
        RgbImageReaderTest.assertMessage(assertThrows(ImageFileException.class, () -> RgbImageWriter.write(t, nowhere, WriteOptions.DEFAULT)),
                nowhere, "does not exist");
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                () -> RgbImageWriter.write(new FloatTensor(new float[16], 1, 4, 2, 2), dir.resolve("y.png"), WriteOptions.DEFAULT));
        assertTrue(shape.getMessage().contains("[1, 4, 2, 2]"), shape.getMessage());
        assertThrows(IllegalArgumentException.class, () -> WriteOptions.DEFAULT.withJpegQuality(0f));
        assertThrows(IllegalArgumentException.class, () -> WriteOptions.DEFAULT.withBitDepth(12));
    }

    @Test
    void tensorConversionKeepsLayout() {
        float[] data = new float[3 * 2 * 4];
        for (int i = 0; i < data.length; i++) data[i] = i / 24f - 0.5f;
        RgbImage img = RgbImage.fromTensor(new FloatTensor(data, 1, 3, 2, 4));
        assertEquals(4, img.width());
        assertEquals(2, img.height());
        assertEquals(data[(2 * 2 + 1) * 4 + 3], img.get(2, 1, 3));
        assertArrayEquals(data, img.toTensor().data());
        data[0] = 9f;
        assertEquals(-0.5f, img.get(0, 0, 0), "the image keeps its own copy");
    }

    private List<String> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
