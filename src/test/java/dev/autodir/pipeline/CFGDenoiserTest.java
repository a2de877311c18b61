package dev.autodir.pipeline;

import dev.autodir.TestData;

import dev.autodir.backend.Ops;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.golden.GoldenConfig;
import dev.autodir.golden.GoldenSet;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** With s_text = s_img = 1 the engine evaluates only the conditional branch; this proves it equals the three-branch result. */
class CFGDenoiserTest {
    static final Path SET_A = TestData.goldenA();
    static AutoDIRModels models;
    static Ops ops;
    static final NetworkCache cache = new NetworkCache();

    @BeforeAll static void load() {
        GoldenSet set = GoldenSet.open(SET_A);
        models = AutoDIRModels.load(set.weightsFile(), GoldenConfig.yaml(set));
        ops = new CpuOps();
    }

    @AfterAll static void close() {
        cache.close();
        if (ops != null) ops.close();
        if (models != null) models.close();
    }

    static FloatTensor random(long seed, int... shape) {
        FloatTensor t = FloatTensor.zeros(shape);
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) r.nextGaussian();
        return t;
    }

    CFGDenoiser denoiser(float sText, float sImg, boolean force, long seed) {
        int e = models.config().vae().embedDim(), d = models.config().unet().contextDim();
        KDiffusionSchedule s = new KDiffusionSchedule(models.config().schedule());
        return new CFGDenoiser(new UNetEvaluator(models, ops, cache), s, ops.upload(random(seed, 1, e, 8, 12)), ops.upload(random(seed + 1, 1, 77, d)),
                ops.upload(random(seed + 2, 1, 77, d)), sText, sImg, force);
    }

    @Test void oneBranchEqualsThreeBranchesAtUnitScales() {
        CFGDenoiser one = denoiser(1f, 1f, false, 10), three = denoiser(1f, 1f, true, 10);
        assertFalse(one.threeBranches());
        assertTrue(three.threeBranches());
        FloatTensor z = random(99, 1, models.config().vae().embedDim(), 8, 12);
        for (float sigma : new float[] {14.6f, 3.1f, 0.05f}) {
            FloatTensor a = ops.download(one.denoise(ops, ops.upload(z), sigma));
            FloatTensor b = ops.download(three.denoise(ops, ops.upload(z), sigma));
            double e = a.relL2(b);
            // the three-branch formula only adds float32 rounding: well under the fp32 per-op bound 1e-5
            assertTrue(e < 1e-6, "sigma " + sigma + ": rel-L2 " + e);
        }
    }

    @Test void wholeSamplerRunsAgreeAtUnitScales() {
        KDiffusionSchedule s = new KDiffusionSchedule(models.config().schedule());
        float[] sigmas = s.getSigmas(6);
        FloatTensor z0 = random(5, 1, models.config().vae().embedDim(), 8, 12);
        for (int i = 0; i < z0.numel(); i++) z0.data()[i] *= sigmas[0];
        FloatTensor a = ops.download(EulerAncestralSampler.sample(ops, denoiser(1f, 1f, false, 20), ops.upload(z0), sigmas, new SeededNoise(3), null));
        FloatTensor b = ops.download(EulerAncestralSampler.sample(ops, denoiser(1f, 1f, true, 20), ops.upload(z0), sigmas, new SeededNoise(3), null));
        double e = a.relL2(b);
        assertTrue(e < 1e-5, "six-step sample: rel-L2 " + e);                  // fp32 tolerance for a chain of ops
        // and guidance that is not 1 does change the result (the shortcut is not taken there)
        FloatTensor c = ops.download(EulerAncestralSampler.sample(ops, denoiser(1.5f, 1.2f, false, 20), ops.upload(z0), sigmas, new SeededNoise(3), null));
        assertTrue(c.relL2(b) > 1e-3, "guided sample should differ, rel-L2 " + c.relL2(b));
    }
}
