package dev.autodir.analysis;

import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Precision;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.Sampler;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Wall time of one restoration pass per sampler with full-size random weights (an analysis tool, run by hand):
 * {@code SamplerTiming SIZE STEPS ROUNDS [BACKEND]}. Prompt mode, so every sampler runs exactly one pass whatever
 * the random BIQA would choose; the samplers are interleaved over the rounds (one model load, one machine state) and
 * the medians are printed with the UNet evaluations each made. Random weights give the real work, not a sampler's
 * quality.
 */
public final class SamplerTiming {
    public static void main(String[] args) {
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        String backend = args.length > 3 ? args[3] : "cpu";
        AutoDIRConfig cfg = AutoDIRConfig.official();
        FloatTensor img = PipelineTiming.synthetic(size);
        Map<Sampler, double[]> pass = new LinkedHashMap<>(), sample = new LinkedHashMap<>();
        for (Sampler s : Sampler.values()) {
            pass.put(s, new double[rounds]);
            sample.put(s, new double[rounds]);
        }
        try (AutoDIRModels models = new AutoDIRModels(new RandomWeightStore(cfg, RandomWeightStore.SPEC_SEED), cfg);
             StageBackends ops = Backends.create(BackendSpec.all(backend), Precision.FP32, System.err);
             Restorer r = new Restorer(models, ops, CLIPTokenizer.loadDefault())) {
            RestoreOptions base = RestoreOptions.defaults().withPrompt("A photo needs noise artifact reduction").withSteps(steps);
            r.restore(img, base.withSteps(1), null, null);                       // converts the weights, warms up
            for (int k = 0; k < rounds; k++) {
                for (Sampler s : Sampler.values()) {
                    Restorer.PassResult p = r.restore(img, base.withSampler(s), null, null).passes().get(0);
                    pass.get(s)[k] = p.times().totalMs();
                    sample.get(s)[k] = p.times().sampleMs();
                    System.out.printf(Locale.ROOT, "round %d %-9s pass %.2f s, sampling %.2f s%n", k + 1, s.cliName(), pass.get(s)[k] / 1e3,
                            sample.get(s)[k] / 1e3);
                }
            }
            var schedule = r.schedule();
            System.out.printf(Locale.ROOT, "%n%d steps, %dx%d image, full-size random weights, %s, medians of %d rounds:%n", steps, size,
                    size, ops.describe(), rounds);
            System.out.printf(Locale.ROOT, "%-9s %12s %10s %12s %14s%n", "sampler", "UNet evals", "pass s", "sampling s", "per eval ms");
            for (Sampler s : Sampler.values()) {
                int evals = s.evaluations(s.sigmas(schedule, dev.autodir.pipeline.SigmaSchedule.DEFAULT, steps));
                double ps = median(pass.get(s)) / 1e3, ss = median(sample.get(s)) / 1e3;
                System.out.printf(Locale.ROOT, "%-9s %12d %10.2f %12.2f %14.0f%n", s.cliName(), evals, ps, ss, 1e3 * ss / evals);
            }
        }
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
