package dev.autodir.image;

import dev.autodir.tensor.FloatTensor;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * An upright RGB image as the model sees it: float planes in channel-height-width order with values in
 * [-1, 1] ({@link Quantization#fromUint8} of the stored levels), plus the size and the bit depth of the
 * source. Immutable: the constructor and every accessor copy the pixels.
 */
public final class RgbImage {
    private final float[] chw;
    private final int width;
    private final int height;
    private final int sourceBitDepth;
    private final Path source;
    private final List<String> warnings;

    /**
     * @param chw            3·height·width floats, channel-major
     * @param sourceBitDepth bits per sample of the file it was read from (8 or 16; 8 for generated images)
     * @param source         the file it was read from, or null
     * @param warnings       what the decoder reported without failing (e.g. an unreadable EXIF block)
     */
    public RgbImage(float[] chw, int width, int height, int sourceBitDepth, Path source, List<String> warnings) {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("image size " + width + "x" + height);
        if (chw.length != 3L * width * height) {
            throw new IllegalArgumentException("expected 3x" + height + "x" + width + " = " + 3L * width * height
                    + " floats, got " + chw.length);
        }
        this.chw = chw.clone();
        this.width = width;
        this.height = height;
        this.sourceBitDepth = sourceBitDepth;
        this.source = source;
        this.warnings = List.copyOf(warnings);
    }

    /** Reads an image file with the default limits ({@link RgbImageReader#read(Path)}). */
    public static RgbImage read(Path file) {
        return RgbImageReader.read(file);
    }

    /** An image from a {@code [1, 3, H, W]} tensor (values are copied, not clamped). */
    public static RgbImage fromTensor(FloatTensor tensor) {
        int[] s = tensor.shape();
        if (s.length != 4 || s[0] != 1 || s[1] != 3) {
            throw new IllegalArgumentException("expected an image tensor of shape [1, 3, H, W], got " + Arrays.toString(s));
        }
        return new RgbImage(tensor.data(), s[3], s[2], 8, null, List.of());
    }

    /** The pixels of a decoded image ({@link RgbImageReader#read(BufferedImage)}). */
    public static RgbImage of(BufferedImage image) {
        return RgbImageReader.read(image);
    }

    /** This image as a {@link BufferedImage} of its source bit depth (8 or 16), quantised as files are. */
    public BufferedImage toBufferedImage() {
        return RgbImageWriter.toBufferedImage(toTensor(), sourceBitDepth == 16 ? 16 : 8);
    }

    public int width() { return width; }
    public int height() { return height; }
    /** Bits per sample of the source file (8 or 16). */
    public int sourceBitDepth() { return sourceBitDepth; }
    /** The file this image was read from, if any. */
    public Optional<Path> source() { return Optional.ofNullable(source); }
    /** Non-fatal problems met while reading. */
    public List<String> warnings() { return warnings; }

    /** The value of channel {@code c} (0 R, 1 G, 2 B) at row {@code y}, column {@code x}. */
    public float get(int c, int y, int x) {
        if (c < 0 || c > 2 || y < 0 || y >= height || x < 0 || x >= width) {
            throw new IndexOutOfBoundsException("(" + c + ", " + y + ", " + x + ") outside 3x" + height + "x" + width);
        }
        return chw[(c * height + y) * width + x];
    }

    /** A copy of the pixels, channel-major. */
    public float[] toChwArray() { return chw.clone(); }

    /** A new {@code [1, 3, H, W]} tensor holding a copy of the pixels. */
    public FloatTensor toTensor() { return new FloatTensor(chw.clone(), 1, 3, height, width); }

    @Override public String toString() {
        return "RgbImage[" + width + "x" + height + ", " + sourceBitDepth + "-bit" + (source == null ? "" : ", " + source) + "]";
    }
}
