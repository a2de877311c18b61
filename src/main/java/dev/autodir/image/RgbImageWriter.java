package dev.autodir.image;

import dev.autodir.tensor.FloatTensor;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;

/**
 * Writes a {@code [1, 3, H, W]} tensor in [-1, 1] (or an {@link RgbImage}) as PNG, JPEG or TIFF, the
 * format chosen by the file extension ({@code .png}, {@code .jpg}/{@code .jpeg}, {@code .tif}/{@code .tiff}).
 *
 * <p>Pixels are quantised as the official script does ({@link Quantization#toUint8}: clamp, scale,
 * <b>truncate</b>); 16-bit PNG and TIFF use {@link Quantization#toUint16}. JPEG is 8-bit only, written
 * by the JDK's encoder (4:2:0 chroma subsampling) at {@link WriteOptions#jpegQuality()}. TIFF is written
 * uncompressed by the JDK's own TIFF writer (TwelveMonkeys' fails on 16 bits).
 *
 * <p>Writing is atomic: the image is encoded into a hidden temporary file in the target's directory,
 * synced, and then renamed onto the target, so a reader never sees half a file and a failed write leaves
 * nothing behind. An existing file is replaced only with {@link WriteOptions#overwrite()}; without it the
 * final link fails if the file appeared meanwhile. The input image (the {@link RgbImage}'s source, or
 * {@link WriteOptions#protectedInput()}) is never written, even with overwrite.
 */
public final class RgbImageWriter {
    private RgbImageWriter() { }

    /** The formats we write. */
    public enum Format {
        PNG("png"), JPEG("jpg", "jpeg"), TIFF("tif", "tiff");

        private final Set<String> extensions;

        Format(String... extensions) { this.extensions = Set.of(extensions); }

        /** The format of a file name's extension (case-insensitive). */
        public static Format ofFileName(Path file) {
            String name = file.getFileName() == null ? "" : file.getFileName().toString();
            int dot = name.lastIndexOf('.');
            String ext = dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
            for (Format f : values()) if (f.extensions.contains(ext)) return f;
            throw new ImageFileException(file, "cannot tell the image format from the extension '" + ext
                    + "'; use .png, .jpg, .jpeg, .tif or .tiff");
        }
    }

    /**
     * @param overwrite      replace an existing file
     * @param bitDepth       8, or 16 for PNG and TIFF
     * @param jpegQuality    JPEG quality in (0, 1]
     * @param protectedInput a file that must never be written (the input image), or null
     */
    public record WriteOptions(boolean overwrite, int bitDepth, float jpegQuality, Path protectedInput) {
        /** No overwrite, 8 bits, JPEG quality 0.95. */
        public static final WriteOptions DEFAULT = new WriteOptions(false, 8, 0.95f, null);

        public WriteOptions {
            if (bitDepth != 8 && bitDepth != 16) throw new IllegalArgumentException("bitDepth must be 8 or 16, got " + bitDepth);
            if (!(jpegQuality > 0f && jpegQuality <= 1f)) {
                throw new IllegalArgumentException("jpegQuality must be in (0, 1], got " + jpegQuality);
            }
        }

        public WriteOptions withOverwrite(boolean overwrite) { return new WriteOptions(overwrite, bitDepth, jpegQuality, protectedInput); }
        public WriteOptions withBitDepth(int bits) { return new WriteOptions(overwrite, bits, jpegQuality, protectedInput); }
        public WriteOptions withJpegQuality(float quality) { return new WriteOptions(overwrite, bitDepth, quality, protectedInput); }
        public WriteOptions withProtectedInput(Path input) { return new WriteOptions(overwrite, bitDepth, jpegQuality, input); }
    }

    /** Writes an image; its source file, if any, is protected from being overwritten. */
    public static Path write(RgbImage image, Path target, WriteOptions options) {
        if (image.source().isPresent()) protect(target, image.source().get());
        return write(image.toTensor(), target, options);
    }

    /**
     * Writes a {@code [1, 3, H, W]} tensor with values in [-1, 1] and returns the absolute path written.
     */
    public static Path write(FloatTensor image, Path target, WriteOptions options) {
        imageShape(image);
        Path file = target.toAbsolutePath().normalize();
        float[] values = image.data();
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new ImageFileException(file, "the image holds " + values[i] + " at index " + i
                        + "; not writing it (NaN and infinity would quantise to black or white)");
            }
        }
        Format format = Format.ofFileName(file);
        if (format == Format.JPEG && options.bitDepth() != 8) {
            throw new ImageFileException(file, "JPEG is 8-bit only; asked for " + options.bitDepth() + " bits");
        }
        if (options.protectedInput() != null) protect(file, options.protectedInput());
        Path dir = file.getParent();
        if (dir == null || !Files.isDirectory(dir)) throw new ImageFileException(file, "directory " + dir + " does not exist");
        if (!options.overwrite() && Files.exists(file)) {
            throw new ImageFileException(file, "already exists; not overwriting it (use the overwrite option to replace it)");
        }
        if (Files.isDirectory(file)) throw new ImageFileException(file, "is a directory");

        BufferedImage pixels = toBufferedImage(image, options.bitDepth());
        Path temp = TempFiles.beside(file);
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                OutputStream out = Channels.newOutputStream(channel);
                encode(pixels, format, options, out, file);
                out.flush();
                channel.force(true);
            }
            publish(temp, file, options.overwrite());
            return file;
        } catch (IOException e) {
            throw new ImageFileException(file, "cannot write " + format + ": " + e, e);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // best effort: the temporary file is hidden and named after the target
            }
        }
    }

    private static void protect(Path target, Path input) {
        Path a = target.toAbsolutePath().normalize();
        Path b = input.toAbsolutePath().normalize();
        boolean same = a.equals(b);
        if (!same && Files.exists(a) && Files.exists(b)) {
            try {
                same = Files.isSameFile(a, b);
            } catch (IOException e) {
                same = true; // cannot tell: refuse rather than risk the input
            }
        }
        if (same) throw new ImageFileException(target, "is the input image; refusing to write over it");
    }

    /** Renames the finished temporary file onto the target. */
    private static void publish(Path temp, Path file, boolean overwrite) throws IOException {
        if (overwrite) {
            try {
                Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new ImageFileException(file, "the file system cannot rename atomically; not writing", e);
            }
            return;
        }
        // A hard link fails if the target exists, closing the window between the check above and now.
        try {
            Files.createLink(file, temp);
            return;
        } catch (FileAlreadyExistsException e) {
            throw new ImageFileException(file, "already exists; not overwriting it (use the overwrite option to replace it)");
        } catch (UnsupportedOperationException | IOException e) {
            // no hard links here: fall back to check-then-rename
        }
        if (Files.exists(file)) {
            throw new ImageFileException(file, "already exists; not overwriting it (use the overwrite option to replace it)");
        }
        try {
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new ImageFileException(file, "the file system cannot rename atomically; not writing", e);
        }
    }

    /**
     * A [1, 3, H, W] image in [-1, 1] as a {@link BufferedImage}, quantised as files are: 8 bits per sample
     * ({@link BufferedImage#TYPE_3BYTE_BGR}) or 16 (sRGB, {@link DataBuffer#TYPE_USHORT} samples).
     */
    public static BufferedImage toBufferedImage(FloatTensor image, int bitDepth) {
        int[] s = imageShape(image);
        if (bitDepth != 8 && bitDepth != 16) throw new IllegalArgumentException("bitDepth must be 8 or 16, got " + bitDepth);
        return bitDepth == 16 ? toUshortImage(image, s[3], s[2]) : toByteImage(image, s[3], s[2]);
    }

    // ---------------------------------------------------------------- pixels

    /** The shape of a [1, 3, H, W] image tensor; anything else throws naming the shape. */
    static int[] imageShape(FloatTensor image) {
        int[] s = image.shape();
        if (s.length != 4 || s[0] != 1 || s[1] != 3 || s[2] <= 0 || s[3] <= 0) {
            throw new IllegalArgumentException("expected an image tensor of shape [1, 3, H, W], got " + Arrays.toString(s));
        }
        return s;
    }

    private static BufferedImage toByteImage(FloatTensor image, int w, int h) {
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        fill(out.getRaster(), image.data(), w, h, false);
        return out;
    }

    private static BufferedImage toUshortImage(FloatTensor image, int w, int h) {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), new int[] {16, 16, 16},
                false, false, Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
        WritableRaster raster = cm.createCompatibleWritableRaster(w, h);
        fill(raster, image.data(), w, h, true);
        return new BufferedImage(cm, raster, false, null);
    }

    private static void fill(WritableRaster raster, float[] chw, int w, int h, boolean sixteenBits) {
        int plane = w * h;
        int[] row = new int[w];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < h; y++) {
                int o = c * plane + y * w;
                for (int x = 0; x < w; x++) {
                    row[x] = sixteenBits ? Quantization.toUint16(chw[o + x]) : Quantization.toUint8(chw[o + x]);
                }
                raster.setSamples(0, y, w, 1, c, row);
            }
        }
    }

    // ---------------------------------------------------------------- encoders

    private static void encode(BufferedImage pixels, Format format, WriteOptions options, OutputStream out, Path file) throws IOException {
        ImageWriter writer = pickWriter(format, pixels, file);
        try (ImageOutputStream ios = new MemoryCacheImageOutputStream(out)) {
            writer.setOutput(ios);
            ImageWriteParam param = writer.getDefaultWriteParam();
            if (format == Format.JPEG) {
                param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
                param.setCompressionQuality(options.jpegQuality());
            }
            writer.write(null, new IIOImage(pixels, null, null), param);
            ios.flush();
        } finally {
            writer.dispose();
        }
    }

    private static ImageWriter pickWriter(Format format, BufferedImage pixels, Path file) {
        String name = switch (format) {
            case PNG -> "png";
            case JPEG -> "jpeg";
            case TIFF -> "tiff";
        };
        ImageTypeSpecifier type = ImageTypeSpecifier.createFromRenderedImage(pixels);
        ImageWriter fallback = null;
        for (Iterator<ImageWriter> it = ImageIO.getImageWritersByFormatName(name); it.hasNext(); ) {
            ImageWriter w = it.next();
            if (!w.getOriginatingProvider().canEncodeImage(type)) {
                w.dispose();
                continue;
            }
            // the JDK's own writers: TwelveMonkeys' TIFF writer cannot write 16-bit samples
            if (w.getClass().getName().startsWith("com.sun.imageio.")) {
                if (fallback != null) fallback.dispose();
                return w;
            }
            if (fallback == null) fallback = w;
            else w.dispose();
        }
        if (fallback == null) throw new ImageFileException(file, "no ImageIO writer for " + format + " of this pixel type");
        return fallback;
    }
}
