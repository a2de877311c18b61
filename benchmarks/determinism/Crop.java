import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.File;

/** Two 192x192 crops of every PNG in args[0], written to args[1] (inputs for determinism.sh). */
public class Crop {
    public static void main(String[] a) throws Exception {
        for (File f : new File(a[0]).listFiles((d, n) -> n.endsWith(".png"))) {
            BufferedImage i = ImageIO.read(f);
            for (int k = 0; k < 2; k++) {
                BufferedImage c = i.getSubimage(100 + k * 300, 200 + k * 200, 192, 192);
                ImageIO.write(c, "png", new File(a[1], f.getName().replace(".png", "") + k + ".png"));
            }
        }
    }
}
