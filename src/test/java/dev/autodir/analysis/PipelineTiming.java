package dev.autodir.analysis;

import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Precision;
import dev.autodir.image.RgbImage;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.Images;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.nio.file.Path;
import java.util.Locale;

/**
 * Wall time of automatic restoration passes on the cpu backend with full-size random weights, per stage (an
 * analysis tool, run by hand): {@code PipelineTiming IMAGE|synthetic SIZE STEPS PASSES [BACKEND [PRECISION]]}. The
 * image is cropped to SIZE×SIZE from its top-left corner ("synthetic": a smooth pattern with noise). Random weights make BIQA's choice arbitrary; the work per pass is the real one.
 */
public final class PipelineTiming {
    static FloatTensor synthetic(int size) {
        FloatTensor t = FloatTensor.zeros(1, 3, size, size);
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    double v = 0.5 * Math.sin((x + 17 * c) / 23.0) * Math.cos(y / 31.0) + 0.15 * r.nextGaussian();
                    t.data()[(c * size + y) * size + x] = (float) Math.max(-1, Math.min(1, v));
                }
            }
        }
        return t;
    }

    public static void main(String[] args) {
        Path image = Path.of(args.length > 0 ? args[0] : "../shared/images/noise.png");
        int size = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        int passes = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        FloatTensor img = args.length > 0 && args[0].equals("synthetic") ? synthetic(size) : Images.crop(RgbImage.read(image).toTensor(), size, size);
        String backend = args.length > 4 ? args[4] : "cpu";
        Precision precision = Precision.parse(args.length > 5 ? args[5] : "fp32");
        AutoDIRConfig cfg = AutoDIRConfig.official();
        long t0 = System.nanoTime();
        try (AutoDIRModels models = new AutoDIRModels(new RandomWeightStore(cfg, 7), cfg);
             StageBackends ops = Backends.create(BackendSpec.all(backend), precision, System.err);
             Restorer r = new Restorer(models, ops, CLIPTokenizer.loadDefault())) {
            RestoreOptions opts = RestoreOptions.defaults().withSteps(steps).withMaxPasses(passes);
            // a first, untimed pass converts the weights; the second is the measured one
            r.restore(img, opts.withSteps(1).withMaxPasses(1), null, null);
            System.out.printf(Locale.ROOT, "weights converted and warm-up pass done in %.1f s%n", (System.nanoTime() - t0) / 1e9);
            long t1 = System.nanoTime();
            Restorer.Outcome out = r.restore(img, opts, null, new Restorer.Observer() {
                @Override public void onAssessment(int pass, BIQA.Result a) {
                    System.out.printf(Locale.ROOT, "pass %d: BIQA chose %s (p=%.3f)%n", pass + 1, a.main(), a.probability(a.mainIndex()));
                }
            });
            double total = (System.nanoTime() - t1) / 1e9;
            for (Restorer.PassResult p : out.passes()) {
                System.out.printf(Locale.ROOT, "pass %d %dx%d, %d steps: %s  total %.1f s%n", p.pass() + 1, size, size, steps,
                        p.times().asMap().entrySet().stream().map(e -> String.format(Locale.ROOT, "%s %.2f s", e.getKey(), e.getValue() / 1e3))
                                .reduce((a, b) -> a + ", " + b).orElse(""), p.times().totalMs() / 1e3);
            }
            System.out.printf(Locale.ROOT, "wall time of the restore call: %.2f s (%s) on %s %s%n", total, out.stopReason(),
                    ops.describe(), precision.lower());
        }
    }
}
