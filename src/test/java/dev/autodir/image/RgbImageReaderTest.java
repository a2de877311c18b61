package dev.autodir.image;

import dev.autodir.TestData;
import dev.autodir.image.RgbImageReader.ReadOptions;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.imageio.ImageIO;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RgbImageReaderTest {
    @TempDir Path dir;
    final Random random = new Random(20240611);

    // ---------------------------------------------------------------- PNG variants

    @Test
    void reads8BitRgbPngExactly() throws IOException {
        BufferedImage img = new BufferedImage(13, 7, BufferedImage.TYPE_3BYTE_BGR);
        int[][][] v = fillRandom(img.getRaster(), 3, 255);
        Path file = dir.resolve("rgb8.png");
        ImageIO.write(img, "png", file.toFile());
        assertEquals(8, TestImages.pngBitDepth(file));

        RgbImage read = RgbImageReader.read(file);
        assertEquals(13, read.width());
        assertEquals(7, read.height());
        assertEquals(8, read.sourceBitDepth());
        assertEquals(file, read.source().orElseThrow());
        assertPixels(read, (c, y, x) -> TestImages.expected8(v[y][x][c]));
    }

    @Test
    void dropsTheAlphaOfRgbaPng() throws IOException {
        BufferedImage img = new BufferedImage(9, 5, BufferedImage.TYPE_4BYTE_ABGR);
        int[][][] v = fillRandom(img.getRaster(), 4, 255);
        v[0][0][3] = 0; // a fully transparent pixel keeps its colour too
        img.getRaster().setPixel(0, 0, v[0][0]);
        Path file = dir.resolve("rgba8.png");
        ImageIO.write(img, "png", file.toFile());

        RgbImage read = RgbImageReader.read(file);
        assertPixels(read, (c, y, x) -> TestImages.expected8(v[y][x][c]));
    }

    @Test
    void greyPngBecomesThreeEqualChannels() throws IOException {
        BufferedImage img = new BufferedImage(6, 4, BufferedImage.TYPE_BYTE_GRAY);
        int[][][] v = fillRandom(img.getRaster(), 1, 255);
        Path file = dir.resolve("grey8.png");
        ImageIO.write(img, "png", file.toFile());

        RgbImage read = RgbImageReader.read(file);
        assertEquals(8, read.sourceBitDepth());
        assertPixels(read, (c, y, x) -> TestImages.expected8(v[y][x][0]));
    }

    @Test
    void reads16BitGreyPng() throws IOException {
        BufferedImage img = new BufferedImage(6, 4, BufferedImage.TYPE_USHORT_GRAY);
        int[][][] v = fillRandom(img.getRaster(), 1, 65535);
        Path file = dir.resolve("grey16.png");
        ImageIO.write(img, "png", file.toFile());
        assertEquals(16, TestImages.pngBitDepth(file));

        RgbImage read = RgbImageReader.read(file);
        assertEquals(16, read.sourceBitDepth());
        assertPixels(read, (c, y, x) -> TestImages.expected16(v[y][x][0]));
    }

    @Test
    void reads16BitRgbAndRgbaPng() throws IOException {
        for (boolean alpha : new boolean[] {false, true}) {
            int bands = alpha ? 4 : 3;
            int[] bits = new int[bands];
            Arrays.fill(bits, 16);
            ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), bits, alpha, false,
                    alpha ? Transparency.TRANSLUCENT : Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
            WritableRaster raster = cm.createCompatibleWritableRaster(11, 6);
            int[][][] v = fillRandom(raster, bands, 65535);
            Path file = dir.resolve("rgb16-" + alpha + ".png");
            ImageIO.write(new BufferedImage(cm, raster, false, null), "png", file.toFile());
            assertEquals(16, TestImages.pngBitDepth(file));
            assertEquals(BufferedImage.TYPE_CUSTOM, ImageIO.read(file.toFile()).getType(), "16-bit RGB reads as TYPE_CUSTOM");

            RgbImage read = RgbImageReader.read(file);
            assertEquals(16, read.sourceBitDepth());
            assertPixels(read, (c, y, x) -> TestImages.expected16(v[y][x][c]));
        }
    }

    @Test
    void palettePngGivesThePaletteColoursWithoutTransparency() throws IOException {
        byte[] r = {(byte) 255, 0, 10, (byte) 200};
        byte[] g = {0, (byte) 255, 20, (byte) 100};
        byte[] b = {0, 0, 30, (byte) 50};
        byte[] a = {(byte) 255, (byte) 255, 0, (byte) 128};
        IndexColorModel palette = new IndexColorModel(8, 4, r, g, b, a);
        BufferedImage img = new BufferedImage(5, 3, BufferedImage.TYPE_BYTE_INDEXED, palette);
        int[][] index = new int[3][5];
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 5; x++) {
                index[y][x] = random.nextInt(4);
                img.getRaster().setSample(x, y, 0, index[y][x]);
            }
        }
        Path file = dir.resolve("palette.png");
        ImageIO.write(img, "png", file.toFile());
        assertEquals(3, Files.readAllBytes(file)[25], "colour type 3 (palette) in IHDR");

        byte[][] rgb = {r, g, b};
        RgbImage read = RgbImageReader.read(file);
        assertPixels(read, (c, y, x) -> TestImages.expected8(rgb[c][index[y][x]] & 0xFF));
    }

    @Test
    void oneBitPngIsBlackAndWhite() throws IOException {
        BufferedImage img = new BufferedImage(10, 3, BufferedImage.TYPE_BYTE_BINARY);
        int[][] bit = new int[3][10];
        for (int y = 0; y < 3; y++) for (int x = 0; x < 10; x++) img.getRaster().setSample(x, y, 0, bit[y][x] = random.nextInt(2));
        Path file = dir.resolve("bits.png");
        ImageIO.write(img, "png", file.toFile());

        RgbImage read = RgbImageReader.read(file);
        assertPixels(read, (c, y, x) -> bit[y][x] == 1 ? 1f : -1f);
    }

    // ---------------------------------------------------------------- TIFF and JPEG

    @Test
    void readsTiff8And16Bit() throws IOException {
        BufferedImage img8 = new BufferedImage(7, 5, BufferedImage.TYPE_3BYTE_BGR);
        int[][][] v8 = fillRandom(img8.getRaster(), 3, 255);
        Path f8 = dir.resolve("rgb8.tif");
        TestImages.writeTiff(img8, f8, 0);
        RgbImage read8 = RgbImageReader.read(f8);
        assertEquals(8, read8.sourceBitDepth());
        assertPixels(read8, (c, y, x) -> TestImages.expected8(v8[y][x][c]));

        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), new int[] {16, 16, 16},
                false, false, Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
        WritableRaster raster = cm.createCompatibleWritableRaster(7, 5);
        int[][][] v16 = fillRandom(raster, 3, 65535);
        Path f16 = dir.resolve("rgb16.tiff");
        TestImages.writeTiff(new BufferedImage(cm, raster, false, null), f16, 0);
        RgbImage read16 = RgbImageReader.read(f16);
        assertEquals(16, read16.sourceBitDepth());
        assertPixels(read16, (c, y, x) -> TestImages.expected16(v16[y][x][c]));
    }

    @Test
    void readsJpegCloseToWhatWasEncoded() throws IOException {
        BufferedImage img = new BufferedImage(64, 48, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 48; y++) for (int x = 0; x < 64; x++) img.getRaster().setPixel(x, y, new int[] {x * 4, y * 5, 128});
        Path file = dir.resolve("smooth.jpg");
        Files.write(file, TestImages.jpegBytes(img, 0.95f));

        RgbImage read = RgbImageReader.read(file);
        assertEquals(64, read.width());
        assertEquals(48, read.height());
        assertEquals(8, read.sourceBitDepth());
        double sum = 0;
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 48; y++) {
                for (int x = 0; x < 64; x++) {
                    sum += Math.abs(read.get(c, y, x) - TestImages.expected8(img.getRaster().getSample(x, y, c)));
                }
            }
        }
        double meanLevels = sum / (3 * 48 * 64) * 127.5;
        assertTrue(meanLevels < 2.0, "mean JPEG error " + meanLevels + " levels (tolerance 2 levels at quality 0.95)");
    }

    @ParameterizedTest(name = "EXIF orientation {0}")
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void jpegExifOrientationIsApplied(int orientation) throws IOException {
        BufferedImage upright = TestImages.blocks();
        Path file = dir.resolve("o" + orientation + ".jpg");
        Files.write(file, TestImages.jpegWithOrientation(TestImages.storedFor(upright, orientation), orientation, orientation % 2 == 0));

        RgbImage read = RgbImageReader.read(file);
        assertEquals(48, read.width(), "width after orientation " + orientation);
        assertEquals(32, read.height(), "height after orientation " + orientation);
        assertBlockCentres(read, orientation);
        assertTrue(read.warnings().isEmpty(), read.warnings().toString());

        RgbImage stored = RgbImageReader.read(file, ReadOptions.DEFAULT.withApplyOrientation(false));
        assertEquals(orientation >= 5 ? 32 : 48, stored.width(), "stored width");
    }

    @ParameterizedTest(name = "TIFF orientation {0}")
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void tiffOrientationIsAppliedExactly(int orientation) throws IOException {
        BufferedImage upright = TestImages.blocks();
        // add detail inside each block so that exact comparison checks every pixel's place
        for (int y = 0; y < 32; y++) for (int x = 0; x < 48; x++) upright.getRaster().setSample(x, y, 1, (x * 5 + y * 3) & 0xFF);
        Path file = dir.resolve("o" + orientation + ".tif");
        TestImages.writeTiff(TestImages.storedFor(upright, orientation), file, orientation);

        RgbImage read = RgbImageReader.read(file);
        assertEquals(48, read.width());
        assertEquals(32, read.height());
        assertPixels(read, (c, y, x) -> TestImages.expected8(upright.getRaster().getSample(x, y, c)));
    }

    @Test
    void adobeCmykJpegIsConvertedToRgb() throws IOException {
        // Adobe (APP14, transform 0) CMYK JPEGs store inverted ink: left half no ink, right half full cyan
        WritableRaster cmyk = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, 32, 16, 4, null);
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 32; x++) cmyk.setPixel(x, y, x < 16 ? new int[] {255, 255, 255, 255} : new int[] {0, 255, 255, 255});
        }
        Path file = dir.resolve("cmyk.jpg");
        Files.write(file, TestImages.adobeCmykJpeg(cmyk));
        assertWhiteLeftCyanRight(RgbImageReader.read(file));
    }

    @Test
    void cmykTiffIsConvertedToRgb() throws IOException {
        ComponentColorModel cm = new ComponentColorModel(new TestImages.NaiveCmyk(), false, false, Transparency.OPAQUE, DataBuffer.TYPE_BYTE);
        WritableRaster cmyk = cm.createCompatibleWritableRaster(32, 16);
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 32; x++) cmyk.setPixel(x, y, x < 16 ? new int[] {0, 0, 0, 0} : new int[] {255, 0, 0, 0});
        }
        Path file = dir.resolve("cmyk.tif");
        TestImages.writeTiff(new BufferedImage(cm, cmyk, false, null), file, 0);
        RgbImage read = RgbImageReader.read(file);
        assertWhiteLeftCyanRight(read);
        assertTrue(read.warnings().stream().anyMatch(w -> w.contains("sRGB")), read.warnings().toString());
    }

    static void assertWhiteLeftCyanRight(RgbImage read) {
        assertEquals(32, read.width());
        assertEquals(16, read.height());
        for (int c = 0; c < 3; c++) {
            float left = read.get(c, 8, 4);
            float right = read.get(c, 8, 28);
            assertTrue(left > 0.9f, "channel " + c + " of the ink-free half should be near white, got " + left);
            if (c == 0) assertTrue(right < -0.9f, "red of the cyan half should be near 0, got " + right);
            else assertTrue(right > 0.9f, "channel " + c + " of the cyan half should be near full, got " + right);
        }
    }

    // ---------------------------------------------------------------- errors and limits

    @Test
    void refusesAHugeHeaderBeforeDecoding() throws IOException {
        Path file = dir.resolve("huge.png");
        Files.write(file, TestImages.pngHeaderOnly(100000, 100000));
        ImageFileException e = assertThrows(ImageFileException.class, () -> RgbImageReader.read(file));
        assertMessage(e, file, "100000x100000");
        assertMessage(e, file, "16384");
        assertMessage(e, file, "100000000");
    }

    @Test
    void limitsAreConfigurable() throws IOException {
        BufferedImage img = new BufferedImage(64, 48, BufferedImage.TYPE_3BYTE_BGR);
        Path file = dir.resolve("small.png");
        ImageIO.write(img, "png", file.toFile());
        assertMessage(assertThrows(ImageFileException.class,
                () -> RgbImageReader.read(file, ReadOptions.DEFAULT.withLimits(3000, 16384))), file, "64x48");
        assertMessage(assertThrows(ImageFileException.class,
                () -> RgbImageReader.read(file, ReadOptions.DEFAULT.withLimits(1_000_000, 60))), file, "60 pixels per side");
        assertEquals(64, RgbImageReader.read(file, ReadOptions.DEFAULT.withLimits(3072, 64)).width());
    }

    @Test
    void unreadableFilesAreNamedWithTheReason() throws IOException {
        Path missing = dir.resolve("missing.png");
        assertMessage(assertThrows(ImageFileException.class, () -> RgbImageReader.read(missing)), missing, "not found");

        assertMessage(assertThrows(ImageFileException.class, () -> RgbImageReader.read(dir)), dir, "directory");

        Path empty = Files.createFile(dir.resolve("empty.png"));
        assertMessage(assertThrows(ImageFileException.class, () -> RgbImageReader.read(empty)), empty, "empty");

        Path noise = dir.resolve("noise.png");
        byte[] bytes = new byte[1000];
        random.nextBytes(bytes);
        bytes[0] = 'x';
        Files.write(noise, bytes);
        assertMessage(assertThrows(ImageFileException.class, () -> RgbImageReader.read(noise)), noise, "not a recognised image format");

        BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_3BYTE_BGR);
        fillRandom(img.getRaster(), 3, 255);
        Path png = dir.resolve("full.png");
        ImageIO.write(img, "png", png.toFile());
        byte[] full = Files.readAllBytes(png);
        Path truncatedPng = dir.resolve("truncated.png");
        Files.write(truncatedPng, Arrays.copyOf(full, full.length / 2));
        assertMessage(assertThrows(ImageFileException.class, () -> RgbImageReader.read(truncatedPng)), truncatedPng, "PNG");

        byte[] jpeg = TestImages.jpegBytes(img, 0.9f);
        Path truncatedJpeg = dir.resolve("truncated.jpg");
        Files.write(truncatedJpeg, Arrays.copyOf(jpeg, jpeg.length / 2));
        assertMessage(assertThrows(ImageFileException.class, () -> RgbImageReader.read(truncatedJpeg)), truncatedJpeg, "JPEG");
    }

    // ---------------------------------------------------------------- the official demo inputs

    @Test
    void readsTheOfficialDemoImages() throws IOException {
        Path images = TestData.sharedOrSkip("images", "the official demo images");
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(images, "*.png")) {
            s.forEach(files::add);
        }
        assertEquals(8, files.size(), "demo images in " + images);
        for (Path f : files) {
            RgbImage read = RgbImageReader.read(f);
            BufferedImage reference = ImageIO.read(f.toFile());
            assertEquals(reference.getWidth(), read.width(), f.toString());
            assertEquals(reference.getHeight(), read.height(), f.toString());
            assertTrue(read.width() >= 704 && read.width() % 64 == 0, f + " width " + read.width());
            assertEquals(8, read.sourceBitDepth());
            FloatTensor t = read.toTensor();
            assertArrayEquals(new int[] {1, 3, read.height(), read.width()}, t.shape());
            float[] d = t.data();
            int plane = read.width() * read.height();
            for (int y = 0; y < read.height(); y++) {
                for (int x = 0; x < read.width(); x++) {
                    int argb = reference.getRGB(x, y);
                    int o = y * read.width() + x;
                    if (d[o] != TestImages.expected8((argb >> 16) & 0xFF) || d[plane + o] != TestImages.expected8((argb >> 8) & 0xFF)
                            || d[2 * plane + o] != TestImages.expected8(argb & 0xFF)) {
                        throw new AssertionError(f + ": pixel (" + x + ", " + y + ") differs from ImageIO's decode");
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    interface Expected {
        float at(int c, int y, int x);
    }

    static void assertPixels(RgbImage img, Expected expected) {
        int mismatches = 0;
        String first = null;
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < img.height(); y++) {
                for (int x = 0; x < img.width(); x++) {
                    float want = expected.at(c, y, x);
                    float got = img.get(c, y, x);
                    if (Float.compare(want, got) != 0) {
                        mismatches++;
                        if (first == null) first = "(c=" + c + ", y=" + y + ", x=" + x + "): expected " + want + ", got " + got;
                    }
                }
            }
        }
        assertEquals(0, mismatches, mismatches + " mismatching values, first at " + first);
    }

    /** The block centres of an oriented JPEG are within 12 levels of the upright colours. */
    static void assertBlockCentres(RgbImage img, int orientation) {
        for (int block = 0; block < 6; block++) {
            int cx = (block % 3) * 16 + 8;
            int cy = (block / 3) * 16 + 8;
            for (int c = 0; c < 3; c++) {
                float want = TestImages.expected8(TestImages.BLOCK_COLOURS[block][c]);
                float got = img.get(c, cy, cx);
                assertTrue(Math.abs(want - got) * 127.5 <= 12,
                        "orientation " + orientation + ", block " + block + ", channel " + c + ": expected " + want + ", got " + got);
            }
        }
    }

    /** Fills every band of every pixel with a random level in 0..max and returns them as [y][x][band]. */
    int[][][] fillRandom(WritableRaster raster, int bands, int max) {
        int[][][] v = new int[raster.getHeight()][raster.getWidth()][bands];
        for (int y = 0; y < raster.getHeight(); y++) {
            for (int x = 0; x < raster.getWidth(); x++) {
                for (int b = 0; b < bands; b++) v[y][x][b] = random.nextInt(max + 1);
                v[y][x][0] = (x + y) % 2 == 0 ? max : v[y][x][0]; // make sure the extremes occur
                if (x == 0 && y == 1) v[y][x][0] = 0;
                raster.setPixel(x, y, v[y][x]);
            }
        }
        return v;
    }

    static void assertMessage(Exception e, Path file, String fragment) {
        assertTrue(e.getMessage().contains(file.toString()), "message should name " + file + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "message should say '" + fragment + "': " + e.getMessage());
    }
}
