package dev.autodir.analysis;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * A large test photo from the official demo images (an analysis tool, run by hand):
 * {@code BigPhoto IMAGE_DIR OUT.jpg|png WIDTH HEIGHT [COLS ROWS]}. The images of IMAGE_DIR (sorted by name) fill a
 * COLS×ROWS grid (default 4×4, repeating them, every second repetition mirrored), each scaled bicubically to cover its
 * cell and centre-cropped; JPEG at quality 0.92.
 */
public final class BigPhoto {
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        File out = new File(args[1]);
        int w = Integer.parseInt(args[2]), h = Integer.parseInt(args[3]);
        int cols = args.length > 4 ? Integer.parseInt(args[4]) : 4, rows = args.length > 5 ? Integer.parseInt(args[5]) : 4;
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
        }
        BufferedImage big = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = big.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int k = r * cols + c;
                BufferedImage src = ImageIO.read(files.get(k % files.size()).toFile());
                int x0 = c * w / cols, x1 = (c + 1) * w / cols, y0 = r * h / rows, y1 = (r + 1) * h / rows;
                double scale = Math.max((double) (x1 - x0) / src.getWidth(), (double) (y1 - y0) / src.getHeight());
                int sw = (int) Math.ceil(src.getWidth() * scale), sh = (int) Math.ceil(src.getHeight() * scale);
                int ox = x0 - (sw - (x1 - x0)) / 2, oy = y0 - (sh - (y1 - y0)) / 2;
                g.setClip(x0, y0, x1 - x0, y1 - y0);
                boolean mirror = (k / files.size()) % 2 == 1;
                if (mirror) g.drawImage(src, ox + sw, oy, -sw, sh, null);
                else g.drawImage(src, ox, oy, sw, sh, null);
            }
        }
        g.dispose();
        if (out.getName().endsWith(".png")) {
            ImageIO.write(big, "png", out);
        } else {
            ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
            ImageWriteParam p = writer.getDefaultWriteParam();
            p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            p.setCompressionQuality(0.92f);
            try (ImageOutputStream os = ImageIO.createImageOutputStream(out)) {
                writer.setOutput(os);
                writer.write(null, new IIOImage(big, null, null), p);
            } finally {
                writer.dispose();
            }
        }
        System.out.println(out + ": " + w + "x" + h + " from " + files.size() + " images in a " + cols + "x" + rows + " grid");
    }
}
