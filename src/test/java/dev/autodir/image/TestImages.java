package dev.autodir.image;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.plugins.tiff.BaselineTIFFTagSet;
import javax.imageio.plugins.tiff.TIFFDirectory;
import javax.imageio.plugins.tiff.TIFFField;
import javax.imageio.plugins.tiff.TIFFTag;
import javax.imageio.stream.ImageOutputStream;
import java.awt.Graphics2D;
import java.awt.color.ColorSpace;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.zip.CRC32;

/** Builders for test images and files, written with the JDK only (independent of the code under test). */
final class TestImages {
    private TestImages() { }

    /** Six 16x16 blocks, 3 across and 2 down, each a different saturated colour: 48x32, no symmetry. */
    static final int[][] BLOCK_COLOURS = {
            {255, 0, 0}, {0, 255, 0}, {0, 0, 255},
            {255, 255, 0}, {0, 255, 255}, {255, 0, 255},
    };

    static BufferedImage blocks() {
        BufferedImage img = new BufferedImage(48, 32, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 48; x++) {
                int[] c = BLOCK_COLOURS[(y / 16) * 3 + x / 16];
                img.getRaster().setPixel(x, y, c);
            }
        }
        return img;
    }

    /**
     * The stored image whose display, after applying EXIF orientation {@code o}, is {@code upright}:
     * built with Java 2D transforms (rotations by quarter turns and mirrors map pixels exactly).
     */
    static BufferedImage storedFor(BufferedImage upright, int o) {
        int w = upright.getWidth();
        int h = upright.getHeight();
        boolean swap = o >= 5;
        // the inverse of the display operation, as a map from upright to stored coordinates
        AffineTransform t = switch (o) {
            case 1 -> new AffineTransform();
            case 2 -> new AffineTransform(-1, 0, 0, 1, w, 0);          // mirror left-right (self-inverse)
            case 3 -> new AffineTransform(-1, 0, 0, -1, w, h);         // 180° (self-inverse)
            case 4 -> new AffineTransform(1, 0, 0, -1, 0, h);          // mirror top-bottom (self-inverse)
            case 5 -> new AffineTransform(0, 1, 1, 0, 0, 0);           // transpose (self-inverse)
            case 6 -> new AffineTransform(0, -1, 1, 0, 0, w);          // display turns 90° clockwise, so store 90° counter-clockwise
            case 7 -> new AffineTransform(0, -1, -1, 0, h, w);         // transverse (self-inverse)
            case 8 -> new AffineTransform(0, 1, -1, 0, h, 0);          // display turns 90° counter-clockwise, so store clockwise
            default -> throw new IllegalArgumentException("orientation " + o);
        };
        BufferedImage stored = new BufferedImage(swap ? h : w, swap ? w : h, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = stored.createGraphics();
        g.drawImage(upright, t, null);
        g.dispose();
        return stored;
    }

    static byte[] jpegBytes(BufferedImage img, float quality) throws IOException {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
            w.setOutput(out);
            ImageWriteParam p = w.getDefaultWriteParam();
            p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            p.setCompressionQuality(quality);
            w.write(null, new IIOImage(img, null, null), p);
        } finally {
            w.dispose();
        }
        return bytes.toByteArray();
    }

    /** A JPEG with an EXIF APP1 segment holding only the orientation tag, after the JFIF APP0 segment. */
    static byte[] jpegWithOrientation(BufferedImage img, int orientation, boolean bigEndian) throws IOException {
        byte[] jpeg = jpegBytes(img, 0.95f);
        ByteBuffer tiff = ByteBuffer.allocate(26).order(bigEndian ? java.nio.ByteOrder.BIG_ENDIAN : java.nio.ByteOrder.LITTLE_ENDIAN);
        tiff.put(bigEndian ? (byte) 'M' : (byte) 'I').put(bigEndian ? (byte) 'M' : (byte) 'I');
        tiff.putShort((short) 42).putInt(8);          // TIFF header, IFD0 at offset 8
        tiff.putShort((short) 1);                     // one entry
        tiff.putShort((short) 0x0112).putShort((short) 3).putInt(1); // Orientation, SHORT, count 1
        tiff.putShort((short) orientation).putShort((short) 0);      // value, padded to 4 bytes
        tiff.putInt(0);                               // no next IFD
        byte[] exifHeader = {'E', 'x', 'i', 'f', 0, 0};
        int length = 2 + exifHeader.length + tiff.capacity();
        ByteArrayOutputStream app1 = new ByteArrayOutputStream();
        app1.write(0xFF);
        app1.write(0xE1);
        app1.write(length >> 8);
        app1.write(length & 0xFF);
        app1.write(exifHeader);
        app1.write(tiff.array());

        // insert after SOI and, if present, the JFIF APP0 segment
        int at = 2;
        if ((jpeg[2] & 0xFF) == 0xFF && (jpeg[3] & 0xFF) == 0xE0) at = 4 + (((jpeg[4] & 0xFF) << 8) | (jpeg[5] & 0xFF));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, at);
        out.write(app1.toByteArray());
        out.write(jpeg, at, jpeg.length - at);
        return out.toByteArray();
    }

    /** The JDK's own TIFF writer (not a plugin's), optionally with an orientation tag. */
    static void writeTiff(BufferedImage img, Path file, int orientation) throws IOException {
        ImageWriter w = null;
        for (Iterator<ImageWriter> it = ImageIO.getImageWritersByFormatName("tiff"); it.hasNext(); ) {
            ImageWriter c = it.next();
            if (c.getClass().getName().startsWith("com.sun.imageio.")) w = c;
        }
        if (w == null) throw new IllegalStateException("the JDK TIFF writer is missing");
        Files.deleteIfExists(file);
        try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
            w.setOutput(out);
            ImageWriteParam p = w.getDefaultWriteParam();
            IIOMetadata meta = null;
            if (orientation > 0) {
                IIOMetadata defaults = w.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(img), p);
                TIFFDirectory dir = TIFFDirectory.createFromMetadata(defaults);
                TIFFTag tag = BaselineTIFFTagSet.getInstance().getTag(BaselineTIFFTagSet.TAG_ORIENTATION);
                dir.addTIFFField(new TIFFField(tag, TIFFTag.TIFF_SHORT, 1, new char[] {(char) orientation}));
                meta = dir.getAsMetadata();
            }
            w.write(null, new IIOImage(img, null, meta), p);
        } finally {
            w.dispose();
        }
    }

    /** A 4-channel JPEG of the raw raster, with an Adobe APP14 segment saying "CMYK, no transform". */
    static byte[] adobeCmykJpeg(Raster cmyk) throws IOException {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
            w.setOutput(out);
            w.write(null, new IIOImage(cmyk, null, null), null);
        } finally {
            w.dispose();
        }
        byte[] jpeg = bytes.toByteArray();
        byte[] app14 = {(byte) 0xFF, (byte) 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0};
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, 2);
        out.write(app14);
        out.write(jpeg, 2, jpeg.length - 2);
        return out.toByteArray();
    }

    /** Device CMYK without a profile: RGB = (1 − ink)·(1 − K). */
    static final class NaiveCmyk extends ColorSpace {
        NaiveCmyk() { super(TYPE_CMYK, 4); }
        @Override public float[] toRGB(float[] v) {
            float k = 1 - v[3];
            return new float[] {(1 - v[0]) * k, (1 - v[1]) * k, (1 - v[2]) * k};
        }
        @Override public float[] fromRGB(float[] rgb) { throw new UnsupportedOperationException(); }
        @Override public float[] toCIEXYZ(float[] v) { return ColorSpace.getInstance(CS_sRGB).toCIEXYZ(toRGB(v)); }
        @Override public float[] fromCIEXYZ(float[] xyz) { throw new UnsupportedOperationException(); }
    }

    /** A PNG chunk: length, type, data, CRC-32 of type and data. */
    static byte[] pngChunk(String type, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(12 + data.length);
        b.putInt(data.length);
        byte[] t = type.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        b.put(t).put(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    /** A PNG that consists of a header claiming {@code width x height} 8-bit RGB, and an end chunk. */
    static byte[] pngHeaderOnly(int width, int height) {
        ByteBuffer ihdr = ByteBuffer.allocate(13);
        ihdr.putInt(width).putInt(height).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        out.writeBytes(pngChunk("IHDR", ihdr.array()));
        out.writeBytes(pngChunk("IEND", new byte[0]));
        return out.toByteArray();
    }

    /** Bit depth byte of a PNG's IHDR chunk. */
    static int pngBitDepth(Path png) throws IOException {
        byte[] b = Files.readAllBytes(png);
        return b[24] & 0xFF;
    }

    /** {@code (2·v)/255 − 1} in float, written out here rather than taken from the code under test. */
    static float expected8(int v) {
        float twice = 2f * v;
        return twice / 255f - 1f;
    }

    static float expected16(int v) {
        float twice = 2f * v;
        return twice / 65535f - 1f;
    }
}
