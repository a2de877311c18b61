package dev.autodir.engine;

import dev.autodir.TestData;
import dev.autodir.image.RgbImageWriter;
import dev.autodir.tensor.FloatTensor;

import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Golden set A's tiny but complete AutoDIR model, for tests that run the whole engine: the weights, the YAML with the
 * head counts its shapes cannot tell ({@code configs/golden-A.yaml}), and generated test images.
 */
public final class TinyModel {
    public static final Path WEIGHTS = TestData.goldenA("weights.safetensors");

    private TinyModel() { }

    /** configs/golden-A.yaml: set A's head counts and schedule (also what the README's first command uses). */
    public static Path yaml() {
        return Path.of("configs", "golden-A.yaml");
    }

    public static AutoDIREngine.Settings settings() {
        return new AutoDIREngine.Settings(WEIGHTS, yaml(), null, null, null);
    }

    /**
     * An image [1, 3, h, w] in [-1, 1]: a smooth colour pattern that depends on the seed, plus Gaussian noise, so
     * different seeds give different images and BIQA has something to look at.
     */
    public static FloatTensor image(int h, int w, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double fx = 0.1 + 0.3 * r.nextDouble(), fy = 0.1 + 0.3 * r.nextDouble(), phase = 6.28 * r.nextDouble();
        float[] d = new float[3 * h * w];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    double v = 0.6 * Math.sin(fx * x + fy * y + phase + 2.1 * c) + 0.25 * gaussian(r);
                    d[(c * h + y) * w + x] = (float) Math.max(-1, Math.min(1, v));
                }
            }
        }
        return new FloatTensor(d, 1, 3, h, w);
    }

    /** Writes {@link #image} as an 8-bit PNG. */
    public static Path png(Path file, int h, int w, long seed) {
        return RgbImageWriter.write(image(h, w, seed), file, RgbImageWriter.WriteOptions.DEFAULT);
    }

    private static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }
}
