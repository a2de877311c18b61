package dev.autodir.capi;

import dev.autodir.image.Quantization;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.tensor.FloatTensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * An RGB image in memory the caller owns, as the C API's {@code autodir_image} describes it: interleaved 8-bit or
 * 16-bit (native byte order) R, G, B samples with {@code stride} bytes from one row to the next, or three float32
 * planes R, G, B with values in [0, 1], {@code stride} bytes between rows of a plane and {@code planeStride} bytes
 * between planes. Bytes between the end of a row's pixels and the next row are neither read nor written.
 *
 * <p>Levels convert as image files do ({@link Quantization}: 8-bit {@code (2v)/255 − 1}, 16-bit
 * {@code (2v)/65535 − 1}; writing clamps and truncates as the official script); float planes map [0, 1] to the
 * model's [−1, 1] and back without clamping.
 *
 * @param data the caller's memory from its start ({@code capacity()} is the size the caller gave)
 */
public record PixelBuffer(Format format, int width, int height, long stride, long planeStride, ByteBuffer data) {
    /** The layouts, with their C enum values ({@code AUTODIR_PIXELS_*}). */
    public enum Format {
        RGB8(1, 3), RGB16(2, 6), FLOAT_PLANES(3, 4);

        final int code;
        /** Bytes per pixel in a row. */
        final int pixelBytes;

        Format(int code, int pixelBytes) {
            this.code = code;
            this.pixelBytes = pixelBytes;
        }

        static Format of(int code, String what) {
            for (Format f : values()) if (f.code == code) return f;
            throw new IllegalArgumentException(what + ": unknown pixel format " + code
                    + " (AUTODIR_PIXELS_RGB8 = 1, AUTODIR_PIXELS_RGB16 = 2, AUTODIR_PIXELS_FLOAT_PLANES = 3)");
        }
    }

    /**
     * Checks a buffer description; {@code what} ("input", "output") starts every message.
     *
     * @throws IllegalArgumentException for a size over the engine's limits, a stride shorter than a row, or a buffer
     *                                  smaller than the layout needs
     */
    public static PixelBuffer of(String what, int formatCode, int width, int height, long stride, long planeStride, ByteBuffer data) {
        Format format = Format.of(formatCode, what);
        RgbImageReader.ReadOptions limits = RgbImageReader.ReadOptions.DEFAULT;
        if (width <= 0 || height <= 0) throw new IllegalArgumentException(what + ": image size " + width + "x" + height + " is not positive");
        if (width > limits.maxSide() || height > limits.maxSide() || (long) width * height > limits.maxPixels()) {
            throw new IllegalArgumentException(what + ": " + width + "x" + height + " is over the limits (" + limits.maxSide()
                    + " pixels per side, " + limits.maxPixels() + " pixels)");
        }
        long row = (long) format.pixelBytes * width;
        if (stride < row) throw new IllegalArgumentException(what + ": stride " + stride + " is less than a row of " + width + " " + format + " pixels (" + row + " bytes)");
        long needed = stride * (height - 1) + row;
        if (format == Format.FLOAT_PLANES) {
            long plane = stride * height;
            if (planeStride < plane) {
                throw new IllegalArgumentException(what + ": plane stride " + planeStride + " is less than a plane of " + height
                        + " rows of stride " + stride + " (" + plane + " bytes)");
            }
            needed += 2 * planeStride;
        }
        if (data == null) throw new IllegalArgumentException(what + ": the pixel pointer is NULL");
        if (data.capacity() < needed) {
            throw new IllegalArgumentException(what + ": " + width + "x" + height + " " + format + " with stride " + stride
                    + (format == Format.FLOAT_PLANES ? " and plane stride " + planeStride : "") + " needs " + needed
                    + " bytes, but the buffer has " + data.capacity());
        }
        if (needed > Integer.MAX_VALUE) throw new IllegalArgumentException(what + ": " + needed + " bytes is over the 2 GiB a buffer may hold");
        return new PixelBuffer(format, width, height, stride, planeStride, data.duplicate().order(ByteOrder.nativeOrder()));
    }

    /** The pixels as an image in [−1, 1] (bit depth 8, 16 or 32 for floats; no file). */
    public RgbImage toImage() {
        int plane = width * height;
        float[] chw = new float[3 * plane];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int o = y * width + x;
                for (int c = 0; c < 3; c++) chw[c * plane + o] = read(c, y, x);
            }
        }
        return new RgbImage(chw, width, height, format == Format.FLOAT_PLANES ? 32 : format == Format.RGB16 ? 16 : 8, null, List.of());
    }

    /** Writes a [1, 3, height, width] image in [−1, 1] into the caller's memory. */
    public void write(FloatTensor image) {
        int[] s = image.shape();
        if (s.length != 4 || s[0] != 1 || s[1] != 3 || s[2] != height || s[3] != width) {
            throw new IllegalArgumentException("output: the buffer is " + width + "x" + height + " but the restored image is "
                    + (s.length == 4 ? s[3] + "x" + s[2] : java.util.Arrays.toString(s)));
        }
        float[] chw = image.data();
        int plane = width * height;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int o = y * width + x;
                for (int c = 0; c < 3; c++) put(c, y, x, chw[c * plane + o]);
            }
        }
    }

    private int index(int c, int y, int x) {
        return switch (format) {
            case RGB8 -> (int) (y * stride) + 3 * x + c;
            case RGB16 -> (int) (y * stride) + 6 * x + 2 * c;
            case FLOAT_PLANES -> (int) (c * planeStride + y * stride) + 4 * x;
        };
    }

    private float read(int c, int y, int x) {
        int i = index(c, y, x);
        return switch (format) {
            case RGB8 -> Quantization.fromUint8(data.get(i) & 0xFF);
            case RGB16 -> Quantization.fromUint16(data.getShort(i) & 0xFFFF);
            case FLOAT_PLANES -> 2f * data.getFloat(i) - 1f;
        };
    }

    private void put(int c, int y, int x, float v) {
        int i = index(c, y, x);
        switch (format) {
            case RGB8 -> data.put(i, (byte) Quantization.toUint8(v));
            case RGB16 -> data.putShort(i, (short) Quantization.toUint16(v));
            case FLOAT_PLANES -> data.putFloat(i, (v + 1f) * 0.5f);
        }
    }
}
