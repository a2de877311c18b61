package dev.autodir.image;

import com.twelvemonkeys.imageio.metadata.CompoundDirectory;
import com.twelvemonkeys.imageio.metadata.Directory;
import com.twelvemonkeys.imageio.metadata.Entry;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEG;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEGSegment;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEGSegmentUtil;
import com.twelvemonkeys.imageio.metadata.tiff.TIFF;
import com.twelvemonkeys.imageio.metadata.tiff.TIFFReader;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.FileImageInputStream;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorConvertOp;
import java.awt.image.ColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Reads PNG (1–16 bit grey, grey+alpha, RGB, RGBA, palette), JPEG (grey, YCbCr, and CMYK/YCCK through
 * TwelveMonkeys) and TIFF (8/16 bit) files into an upright {@link RgbImage} — and whatever other format
 * an installed ImageIO plugin decodes (BMP, GIF).
 *
 * <p>What happens to the stored pixels, following the official {@code Image.open(path).convert("RGB")}:
 * <ul>
 *   <li>Alpha is <b>dropped</b>, not composited: an RGBA pixel (r, g, b, a) reads as (r, g, b).</li>
 *   <li>Grey becomes three equal channels; palette indices become their palette colours.</li>
 *   <li>Sample values are taken as stored, ignoring any embedded ICC profile or gamma (as PIL does);
 *       only colour spaces that are not RGB or grey (CMYK, YCCK, Lab) are converted to sRGB with Java
 *       2D's colour management, which may differ from PIL's conversion.</li>
 *   <li>8-bit levels map to {@code (2·v)/255 − 1}, 16-bit ones to {@code (2·v)/65535 − 1}
 *       ({@link Quantization}); 1/2/4-bit grey levels are first scaled to 8 bits exactly, as PIL does.
 *       The official script would reduce 16-bit files to 8 bits through PIL; we keep the precision.</li>
 *   <li>The EXIF orientation of JPEG files and the orientation tag of TIFF files are applied (all eight
 *       values), unless {@link ReadOptions#applyOrientation()} is false. The official script does not
 *       apply it. PNG eXIf chunks are not read.</li>
 * </ul>
 *
 * <p>The image size is read from the header and checked against {@link ReadOptions} before any pixel
 * is decoded, so an absurd header cannot exhaust memory. Every failure is an {@link ImageFileException}
 * naming the file and the reason. A JPEG that ends early is an error (PIL refuses truncated files too);
 * other decoder warnings are kept in {@link RgbImage#warnings()}.
 */
public final class RgbImageReader {
    private RgbImageReader() { }

    /**
     * @param maxPixels        the largest width·height accepted
     * @param maxSide          the largest width or height accepted
     * @param applyOrientation turn JPEG/TIFF images upright according to their orientation tag
     */
    public record ReadOptions(long maxPixels, int maxSide, boolean applyOrientation) {
        /** 100 megapixels, 16384 pixels per side, orientation applied. */
        public static final ReadOptions DEFAULT = new ReadOptions(100_000_000L, 16384, true);

        public ReadOptions {
            if (maxPixels <= 0) throw new IllegalArgumentException("maxPixels must be positive, got " + maxPixels);
            if (maxSide <= 0) throw new IllegalArgumentException("maxSide must be positive, got " + maxSide);
        }

        public ReadOptions withLimits(long maxPixels, int maxSide) { return new ReadOptions(maxPixels, maxSide, applyOrientation); }
        public ReadOptions withApplyOrientation(boolean apply) { return new ReadOptions(maxPixels, maxSide, apply); }
    }

    public static RgbImage read(Path file) {
        return read(file, ReadOptions.DEFAULT);
    }

    public static RgbImage read(Path file, ReadOptions options) {
        if (!Files.exists(file)) throw new ImageFileException(file, "file not found");
        if (Files.isDirectory(file)) throw new ImageFileException(file, "is a directory, not an image file");
        if (!Files.isReadable(file)) throw new ImageFileException(file, "not readable (permissions)");

        List<String> warnings = new ArrayList<>();
        String format = "image";
        Decoded decoded;
        try (ImageInputStream in = new FileImageInputStream(file.toFile())) {
            if (in.length() == 0) throw new ImageFileException(file, "empty file");
            ImageReader reader = firstReader(in);
            if (reader == null) {
                throw new ImageFileException(file, "not a recognised image format (PNG, JPEG, TIFF, BMP or GIF expected); it starts with "
                        + headBytes(in));
            }
            try {
                format = reader.getFormatName().toUpperCase(Locale.ROOT);
                reader.setInput(in, true, true);
                int width = reader.getWidth(0);
                int height = reader.getHeight(0);
                checkSize(file, format, width, height, options);
                checkTiles(file, format, reader, options);
                reader.addIIOReadWarningListener((source, message) -> warnings.add(message));
                BufferedImage image;
                try {
                    image = reader.read(0, reader.getDefaultReadParam());
                } catch (OutOfMemoryError e) {
                    throw new ImageFileException(file, "decoding this " + format + " file needs more memory than the Java heap has ("
                            + (Runtime.getRuntime().maxMemory() >> 20) + " MiB); corrupt or hostile header?");
                }
                for (String w : warnings) {
                    if (w.toLowerCase(Locale.ROOT).contains("premature end")) {
                        throw new ImageFileException(file, "truncated " + format + " file (" + w + ")");
                    }
                }
                decoded = toPlanes(image, warnings);
            } finally {
                reader.dispose();
            }
        } catch (ImageFileException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // ImageIO decoders report corrupt data as IIOException, EOFException, or even as
            // IndexOutOfBounds / IllegalArgument / IllegalState exceptions
            throw new ImageFileException(file, "cannot decode " + format + " data (corrupt or unsupported file): " + e, e);
        }

        int width = decoded.width;
        int height = decoded.height;
        float[] planes = decoded.planes;
        if (options.applyOrientation() && (format.startsWith("JP") || format.startsWith("TIF"))) {
            Orientation orientation = readOrientation(file, format.startsWith("JP"), warnings);
            planes = orientation.apply(planes, 3, width, height);
            if (orientation.swapsAxes()) {
                int t = width;
                width = height;
                height = t;
            }
        }
        return new RgbImage(planes, width, height, decoded.bitDepth, file, warnings);
    }

    /**
     * The pixels of an image already decoded (from a program rather than a file): the same conversions as
     * {@link #read(Path)} (alpha dropped, grey and palette expanded, 16-bit samples kept) except orientation, which a
     * {@link BufferedImage} does not carry.
     */
    public static RgbImage read(BufferedImage image) {
        if (image == null) throw new IllegalArgumentException("image is null");
        List<String> warnings = new ArrayList<>();
        Decoded decoded = toPlanes(image, warnings);
        return new RgbImage(decoded.planes, decoded.width, decoded.height, decoded.bitDepth, null, warnings);
    }

    /**
     * The width and height the file's header gives, as stored (before orientation), checked against the
     * default limits; decodes no pixels. For memory checks before the work starts.
     */
    public static int[] size(Path file) {
        try (ImageInputStream in = new FileImageInputStream(file.toFile())) {
            ImageReader reader = firstReader(in);
            if (reader == null) throw new ImageFileException(file, "not a recognised image format (PNG, JPEG, TIFF, BMP or GIF expected)");
            try {
                reader.setInput(in, true, true);
                String format = reader.getFormatName().toUpperCase(Locale.ROOT);
                int width = reader.getWidth(0), height = reader.getHeight(0);
                checkSize(file, format, width, height, ReadOptions.DEFAULT);
                return new int[] {width, height};
            } finally {
                reader.dispose();
            }
        } catch (ImageFileException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new ImageFileException(file, "cannot read the image header (corrupt or unsupported file): " + e, e);
        }
    }

    // ---------------------------------------------------------------- header checks

    private static ImageReader firstReader(ImageInputStream in) {
        Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
        return readers.hasNext() ? readers.next() : null;
    }

    private static String headBytes(ImageInputStream in) throws IOException {
        in.seek(0);
        byte[] head = new byte[(int) Math.min(8, in.length())];
        in.readFully(head);
        StringBuilder sb = new StringBuilder("bytes");
        for (byte b : head) sb.append(String.format(" %02x", b & 0xFF));
        return sb.toString();
    }

    private static void checkSize(Path file, String format, int width, int height, ReadOptions options) {
        long pixels = (long) width * height;
        if (width <= 0 || height <= 0) {
            throw new ImageFileException(file, format + " header gives an impossible size " + width + "x" + height);
        }
        if (width > options.maxSide() || height > options.maxSide() || pixels > options.maxPixels()) {
            throw new ImageFileException(file, String.format(Locale.ROOT,
                    "%s header says %dx%d (%.1f megapixels), over the limit of %d pixels per side and %d pixels (%.1f megapixels);"
                            + " not decoding it (raise ReadOptions limits if this is intended)",
                    format, width, height, pixels / 1e6, options.maxSide(), options.maxPixels(), options.maxPixels() / 1e6));
        }
        if (3 * pixels > Integer.MAX_VALUE - 8) {
            throw new ImageFileException(file, format + " header says " + width + "x" + height
                    + ", too many pixels for one float array of 3 planes");
        }
    }

    /**
     * A tiled file (TIFF tiles, and strips, which the JDK reports as tiles) is decoded one tile buffer at a time:
     * tile dimensions the header declares far beyond the image made the JDK's TIFF decoder allocate gigabytes for
     * a 487-byte file (found by fuzzing), so a tile is held to the same limits as the image.
     */
    private static void checkTiles(Path file, String format, ImageReader reader, ReadOptions options) throws IOException {
        if (!reader.isImageTiled(0)) return;
        int tw = reader.getTileWidth(0), th = reader.getTileHeight(0);
        if (tw <= 0 || th <= 0 || tw > options.maxSide() || th > options.maxSide() || (long) tw * th > options.maxPixels()) {
            throw new ImageFileException(file, format + " header declares tiles of " + tw + "x" + th
                    + ", over the limit of " + options.maxSide() + " pixels per side and " + options.maxPixels() + " pixels");
        }
    }

    // ---------------------------------------------------------------- pixels

    private record Decoded(float[] planes, int width, int height, int bitDepth) { }

    private static Decoded toPlanes(BufferedImage image, List<String> warnings) {
        int w = image.getWidth();
        int h = image.getHeight();
        int plane = w * h;
        float[] out = new float[3 * plane];
        Raster raster = image.getRaster();
        ColorModel cm = image.getColorModel();
        int[] row = new int[w];

        if (cm instanceof IndexColorModel palette) {
            int n = palette.getMapSize();
            float[][] lut = new float[3][n];
            for (int i = 0; i < n; i++) {
                lut[0][i] = Quantization.fromUint8(palette.getRed(i));
                lut[1][i] = Quantization.fromUint8(palette.getGreen(i));
                lut[2][i] = Quantization.fromUint8(palette.getBlue(i));
            }
            for (int y = 0; y < h; y++) {
                raster.getSamples(0, y, w, 1, 0, row);
                for (int x = 0; x < w; x++) {
                    int index = row[x];
                    if (index >= n) throw new IllegalStateException("palette index " + index + " at (" + x + ", " + y + ") but the palette has " + n + " entries");
                    int o = y * w + x;
                    out[o] = lut[0][index];
                    out[plane + o] = lut[1][index];
                    out[2 * plane + o] = lut[2][index];
                }
            }
            return new Decoded(out, w, h, 8);
        }

        int csType = cm.getColorSpace().getType();
        int colours = cm.getNumColorComponents();
        boolean rgb = csType == ColorSpace.TYPE_RGB && colours == 3;
        boolean grey = csType == ColorSpace.TYPE_GRAY && colours == 1;
        int dataType = raster.getSampleModel().getDataType();
        boolean unsignedIntegers = dataType == DataBuffer.TYPE_BYTE || dataType == DataBuffer.TYPE_USHORT || dataType == DataBuffer.TYPE_INT;
        int bits = raster.getSampleModel().getSampleSize(0);
        for (int b = 1; b < raster.getNumBands(); b++) {
            if (raster.getSampleModel().getSampleSize(b) != bits) bits = -1;
        }

        if ((rgb || grey) && unsignedIntegers && bits >= 1 && bits <= 16) {
            float[] lut = levelTable(bits);
            for (int c = 0; c < 3; c++) {
                int band = rgb ? c : 0;
                for (int y = 0; y < h; y++) {
                    raster.getSamples(0, y, w, 1, band, row);
                    int o = c * plane + y * w;
                    for (int x = 0; x < w; x++) out[o + x] = lut[row[x]];
                }
            }
            return new Decoded(out, w, h, Math.max(8, bits));
        }

        // CMYK, YCCK, Lab, signed or floating-point samples: let Java 2D convert to 8-bit sRGB
        warnings.add("converted from colour space type " + csType + " (" + colours + " colours, "
                + (bits > 0 ? bits + "-bit" : "mixed-width") + " samples) to sRGB with Java 2D colour management");
        BufferedImage srgb = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        new ColorConvertOp(null).filter(image, srgb);
        Decoded converted = toPlanes(srgb, warnings);
        return new Decoded(converted.planes, w, h, bits > 8 ? 16 : 8);
    }

    /** Float value of every level of a {@code bits}-bit sample. */
    private static float[] levelTable(int bits) {
        int max = (1 << bits) - 1;
        float[] lut = new float[max + 1];
        for (int v = 0; v <= max; v++) {
            if (bits == 16) lut[v] = Quantization.fromUint16(v);
            else if (bits <= 8) lut[v] = Quantization.fromUint8(v * 255 / max); // exact for 1, 2, 4, 8 bits
            else lut[v] = (2f * v) / max - 1f;
        }
        return lut;
    }

    // ---------------------------------------------------------------- orientation

    private static Orientation readOrientation(Path file, boolean jpeg, List<String> warnings) {
        try (ImageInputStream in = new FileImageInputStream(file.toFile())) {
            Directory directory;
            if (jpeg) {
                List<JPEGSegment> exif = JPEGSegmentUtil.readSegments(in, JPEG.APP1, "Exif");
                if (exif.isEmpty()) return Orientation.NORMAL;
                byte[] data;
                try (InputStream s = exif.get(0).data()) {
                    data = s.readAllBytes();
                }
                // the identifier is "Exif\0" followed by one pad byte before the TIFF header
                int offset = data.length > 0 && data[0] == 0 ? 1 : 0;
                directory = new TIFFReader().read(new MemoryCacheImageInputStream(
                        new ByteArrayInputStream(data, offset, data.length - offset)));
            } else {
                directory = new TIFFReader().read(in);
            }
            if (directory instanceof CompoundDirectory compound) {
                if (compound.directoryCount() == 0) return Orientation.NORMAL;
                directory = compound.getDirectory(0);
            }
            Entry entry = directory.getEntryById(TIFF.TAG_ORIENTATION);
            if (entry == null) return Orientation.NORMAL;
            Object value = entry.getValue();
            if (value instanceof Number number) {
                Orientation o = Orientation.ofExif(number.intValue());
                if (o != null) return o;
            }
            warnings.add("orientation tag has value " + entry.getValueAsString() + ", not 1..8; ignored");
            return Orientation.NORMAL;
        } catch (IOException | RuntimeException e) {
            warnings.add("orientation metadata could not be read, image left as stored: " + e);
            return Orientation.NORMAL;
        }
    }
}
