package dev.autodir.image;

import dev.autodir.tensor.FloatTensor;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Interleaved 8-bit RGB pixels in a {@link ByteBuffer}, as camera and video APIs hand them over: row {@code y}
 * starts {@code y · stride} bytes after the buffer's position (at construction), and pixel {@code x} of a row is
 * the three bytes R, G, B at {@code 3x}. Padding bytes at the end of a row (stride &gt; 3·width) are neither read
 * nor written. The record holds a view of the caller's memory ({@link ByteBuffer#slice()}): writing changes it.
 *
 * <p>Levels convert exactly as image files do ({@link Quantization}): reading {@code (2·v)/255 − 1}, writing the
 * official truncation.
 */
public record RgbBytes(ByteBuffer buffer, int width, int height, int stride) {
    public RgbBytes {
        if (buffer == null) throw new IllegalArgumentException("buffer is null");
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("image size " + width + "x" + height + " is not positive");
        if (stride < 3L * width) {
            throw new IllegalArgumentException("stride " + stride + " is less than 3 bytes x width " + width + " = " + 3L * width);
        }
        long needed = (long) stride * (height - 1) + 3L * width;
        if (buffer.remaining() < needed) {
            throw new IllegalArgumentException(width + "x" + height + " RGB with stride " + stride + " needs " + needed
                    + " bytes from the buffer's position, but " + buffer.remaining() + " remain");
        }
        buffer = buffer.slice();
    }

    /** A new, tightly packed (stride 3·width) heap buffer of a [1, 3, H, W] image, quantised as files are. */
    public static RgbBytes of(FloatTensor image) {
        int[] s = RgbImageWriter.imageShape(image);
        RgbBytes out = new RgbBytes(ByteBuffer.allocate(3 * s[3] * s[2]), s[3], s[2], 3 * s[3]);
        out.write(image);
        return out;
    }

    /** The pixels as an {@link RgbImage} (8-bit source, no file). */
    public RgbImage toImage() {
        int plane = width * height;
        float[] chw = new float[3 * plane];
        for (int y = 0; y < height; y++) {
            int row = y * stride;
            for (int x = 0; x < width; x++) {
                int o = y * width + x, b = row + 3 * x;
                chw[o] = Quantization.fromUint8(buffer.get(b) & 0xFF);
                chw[plane + o] = Quantization.fromUint8(buffer.get(b + 1) & 0xFF);
                chw[2 * plane + o] = Quantization.fromUint8(buffer.get(b + 2) & 0xFF);
            }
        }
        return new RgbImage(chw, width, height, 8, null, List.of());
    }

    /** Writes a [1, 3, height, width] image in [-1, 1] into this buffer; returns this. */
    public RgbBytes write(FloatTensor image) {
        int[] s = RgbImageWriter.imageShape(image);
        if (s[2] != height || s[3] != width) {
            throw new IllegalArgumentException("image is " + s[3] + "x" + s[2] + " but the buffer holds " + width + "x" + height);
        }
        if (buffer.isReadOnly()) throw new IllegalArgumentException("the buffer is read-only");
        float[] chw = image.data();
        int plane = width * height;
        for (int y = 0; y < height; y++) {
            int row = y * stride;
            for (int x = 0; x < width; x++) {
                int o = y * width + x, b = row + 3 * x;
                buffer.put(b, (byte) Quantization.toUint8(chw[o]));
                buffer.put(b + 1, (byte) Quantization.toUint8(chw[plane + o]));
                buffer.put(b + 2, (byte) Quantization.toUint8(chw[2 * plane + o]));
            }
        }
        return this;
    }
}
