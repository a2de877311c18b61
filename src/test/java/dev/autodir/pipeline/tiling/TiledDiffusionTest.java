package dev.autodir.pipeline.tiling;

import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.engine.TinyModel;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.pipeline.CFGDenoiser;
import dev.autodir.pipeline.Denoiser;
import dev.autodir.pipeline.EulerAncestralSampler;
import dev.autodir.pipeline.KDiffusionSchedule;
import dev.autodir.pipeline.NetworkCache;
import dev.autodir.pipeline.SeededNoise;
import dev.autodir.pipeline.UNetEvaluator;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tiled latent diffusion on golden set A's UNet: one tile is the untiled sampler exactly; batching changes nothing. */
class TiledDiffusionTest {
    static AutoDIRModels models;
    static CpuOps cpu;
    static NetworkCache cache;
    static KDiffusionSchedule schedule;

    @BeforeAll static void load() {
        models = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()));
        cpu = new CpuOps();
        cache = new NetworkCache();
        schedule = new KDiffusionSchedule(models.config().schedule());
    }

    @AfterAll static void close() {
        if (cache != null) cache.close();
        if (cpu != null) cpu.close();
        if (models != null) models.close();
    }

    static final int H = 24, W = 20;
    static final int MULTIPLE = 2;   // set A's UNet halves once

    record Conditioning(Tensor cConcat, Tensor cond, Tensor uncond) { }

    static Conditioning conditioning() {
        int e = models.config().unet().outChannels(), d = models.config().unet().contextDim();
        return new Conditioning(cpu.upload(TiledNetworkTest.random(21, 1, e, H, W)), cpu.upload(TiledNetworkTest.random(22, 1, 77, d)),
                cpu.upload(TiledNetworkTest.random(23, 1, 77, d)));
    }

    static FloatTensor sample(Denoiser d, int steps) {
        float[] sigmas = schedule.getSigmas(steps);
        SeededNoise noise = new SeededNoise(5);
        FloatTensor z0 = noise.initial(1, models.config().unet().outChannels(), H, W);
        for (int i = 0; i < z0.numel(); i++) z0.data()[i] *= sigmas[0];
        return cpu.download(EulerAncestralSampler.sample(cpu, d, cpu.uploadFloat32(z0), sigmas, noise, null));
    }

    UNetEvaluator unet() { return new UNetEvaluator(models, cpu, cache); }

    @Test void oneTileCoveringTheLatentIsUntiledExactly() {
        Conditioning c = conditioning();
        for (float[] g : new float[][] {{1f, 1f}, {1.5f, 1.2f}}) {
            // the cpu backend's vector loops round differently before and after the JIT compiles them: in a round where two
            // untiled runs agree to the bit, the tiled run between them must agree with them to the bit
            LatentTiles one = new LatentTiles(H, W, 24, 8, MULTIPLE);
            assertEquals(1, one.size());
            boolean compared = false;
            for (int round = 0; round < 8 && !compared; round++) {
                FloatTensor before = sample(new CFGDenoiser(unet(), schedule, c.cConcat, c.cond, c.uncond, g[0], g[1], false), 3);
                FloatTensor tiled;
                try (TiledDenoiser t = new TiledDenoiser(unet(), schedule, c.cConcat, c.cond, c.uncond, g[0], g[1], one, 1)) {
                    tiled = sample(t, 3);
                }
                FloatTensor after = sample(new CFGDenoiser(unet(), schedule, c.cConcat, c.cond, c.uncond, g[0], g[1], false), 3);
                if (!java.util.Arrays.equals(before.data(), after.data())) continue;
                assertArrayEquals(before.data(), tiled.data(), "guidance " + g[0] + "/" + g[1] + ": one tile must be the untiled run");
                compared = true;
            }
            assertTrue(compared, "the untiled sampler never gave the same bits twice in a row");
        }
    }

    @Test void batchedTilesEqualOneAtATime() {
        Conditioning c = conditioning();
        LatentTiles tiles = new LatentTiles(H, W, 12, 4, MULTIPLE);
        assertTrue(tiles.size() >= 4, tiles.toString());
        for (float[] g : new float[][] {{1f, 1f}, {1.5f, 1.2f}}) {
            FloatTensor single, batched;
            try (TiledDenoiser t = new TiledDenoiser(unet(), schedule, c.cConcat, c.cond, c.uncond, g[0], g[1], tiles, 1)) {
                single = sample(t, 2);
            }
            try (TiledDenoiser t = new TiledDenoiser(unet(), schedule, c.cConcat, c.cond, c.uncond, g[0], g[1], tiles, 3)) {
                batched = sample(t, 2);
            }
            double e = batched.relL2(single);
            assertTrue(e <= 1e-5, "guidance " + g[0] + "/" + g[1] + ": batch 3 vs 1 rel-L2 " + e);   // fp32: the same products in other batches
        }
    }

    @Test void weightsOfEveryPixelSumToOne() {
        LatentTiles t = new LatentTiles(40, 56, 16, 6, 2);
        double[] sum = new double[40 * 56];
        for (int i = 0; i < t.size(); i++) {
            Rect r = t.tile(i);
            float[] w = t.weight(i, 1).data();
            for (int y = 0; y < r.height(); y++) for (int x = 0; x < r.width(); x++) sum[(r.y0() + y) * 56 + r.x0() + x] += w[y * r.width() + x];
        }
        for (double s : sum) assertEquals(1.0, s, 1e-6);                 // float32 weights, normalised in double
        // neighbours overlap by at least the overlap asked for, and the last tile is flush with the end
        int[] p = LatentTiles.positions(56, 16, 6, 2);
        for (int i = 1; i < p.length; i++) assertTrue(p[i - 1] + 16 - p[i] >= 6 - 2, "overlap at " + i + ": " + java.util.Arrays.toString(p));
        assertEquals(56 - 16, p[p.length - 1]);
    }

    /**
     * The blend cannot make a step. Where two tiles whose predictions differ by Δ overlap, the normalised weight of one
     * is a logistic of the position, w = 1 / (1 + exp(−D·(x − m)/σ²)) for centres D apart, whose slope is at most
     * D/(4σ²) per pixel; lowering each Gaussian to vanish at its tile's edge adds at most |g'|/g_other ≈ 0.02 there.
     * So the blended field changes by at most about (D/(4σ²) + 0.02)·Δ between neighbouring pixels: for tiles of 64
     * with overlap 16 (D ≤ 48, σ = 0.2·64 = 12.8) 0.073 + 0.02 < 0.1 of Δ, where a hard cut changes by all of Δ.
     * Checked on constant per-tile predictions alternating 0 and 1 (Δ = 1); the hard cut (σ = 0.05·side) as control.
     */
    @Test void blendOfDifferingTilesHasNoStep() {
        assertTrue(largestStep(LatentTiles.SIGMA_FRACTION) <= 0.1, "blended step " + largestStep(LatentTiles.SIGMA_FRACTION));
        assertTrue(largestStep(LatentTiles.SIGMA_FRACTION) > 0.01, "the tiles differ, so the field must change");
        assertTrue(largestStep(0.05) > 0.5, "a hard cut steps by most of Δ: " + largestStep(0.05));
    }

    private static double largestStep(double sigmaFraction) {
        int tile = 64, overlap = 16, length = 64 * 3;
        LatentTiles t = new LatentTiles(8, length, tile, overlap, 8, sigmaFraction);
        double[] field = new double[length];
        for (int i = 0; i < t.size(); i++) {
            Rect r = t.tile(i);
            float[] w = t.weight(i, 1).data();
            for (int x = 0; x < r.width(); x++) field[r.x0() + x] += w[4 * r.width() + x] * (i % 2 == 0 ? 0.0 : 1.0);
        }
        double maxStep = 0;
        for (int x = 1; x < length; x++) maxStep = Math.max(maxStep, Math.abs(field[x] - field[x - 1]));
        return maxStep;
    }

    // ---- no seam on a smooth image --------------------------------------------------------------------------------

    /** Mean absolute differences z[i+1] − z[i] between neighbouring columns (or rows) of z [1, C, h, w], per i. */
    static double[] gradients(FloatTensor z, boolean rows) {
        int c = z.dim(1), h = z.dim(2), w = z.dim(3), n = rows ? h - 1 : w - 1;
        double[] g = new double[n];
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < (rows ? h - 1 : h); y++) {
                for (int x = 0; x < (rows ? w : w - 1); x++) {
                    float a = z.data()[(ch * h + y) * w + x], b = z.data()[(ch * h + y + (rows ? 1 : 0)) * w + x + (rows ? 0 : 1)];
                    g[rows ? y : x] += Math.abs(b - a);
                }
            }
        }
        return g;
    }

    /**
     * The tiled result's gradient relative to the untiled one's at the same place, r_i = g_tiled[i] / g_whole[i] (the
     * image's own structure divides out): {mean of r over the seam positions, mean elsewhere, its spread, seam count}.
     */
    static double[] ratio(FloatTensor z, FloatTensor whole, List<Integer> seams, boolean rows) {
        double[] g = gradients(z, rows), ref = gradients(whole, rows);
        double sb = 0, se = 0, se2 = 0;
        int nb = 0, ne = 0;
        for (int i = 0; i < g.length; i++) {
            double r = g[i] / ref[i];
            if (seams.contains(i)) { sb += r; nb++; } else { se += r; se2 += r * r; ne++; }
        }
        double meanE = se / ne, sdE = Math.sqrt(Math.max(0, se2 / ne - meanE * meanE));
        return new double[] {sb / nb, meanE, sdE, nb};
    }

    static List<Integer> seams(LatentTiles t, boolean rows) {
        List<Integer> s = new ArrayList<>();
        for (int i = 0; i < t.size(); i++) {
            Rect r = t.tile(i);
            int a = rows ? r.y0() : r.x0(), b = rows ? r.y1() : r.x1(), end = rows ? H2 : W2;
            if (a > 0 && !s.contains(a - 1)) s.add(a - 1);
            if (b < end && !s.contains(b - 1)) s.add(b - 1);
        }
        return s;
    }

    static final int H2 = 48, W2 = 48;

    /** A smooth conditioning: the posterior-mean-like field of a gentle colour gradient (no noise). */
    static Tensor smooth(int c, double phase) {
        FloatTensor t = FloatTensor.zeros(1, c, H2, W2);
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < H2; y++) {
                for (int x = 0; x < W2; x++) t.data()[(ch * H2 + y) * W2 + x] = (float) (0.8 * Math.sin(0.07 * x + 0.05 * y + ch + phase));
            }
        }
        return cpu.upload(t);
    }

    /**
     * On a smooth latent and conditioning with 25 overlapping tiles, one denoiser call (σ = 1, where the UNet's
     * prediction weighs as much as the latent) shows no seam: the mean gradient across
     * tile borders is within 4 standard errors of the mean gradient elsewhere. The factor: without a seam the column
     * means at the n_b border positions are draws of the same distribution as the others (mean m, spread s), so their
     * mean lies within m ± 4·s/√n_b with probability above 0.9999; a seam adds its jump to every border column.
     * The same check on a hard cut (σ = 0.05 of the tile: the weights switch within a pixel) must fail, so the check
     * can see a seam.
     */
    @Test void noSeamOnASmoothImage() {
        int e = models.config().unet().outChannels(), d = models.config().unet().contextDim();
        Tensor cConcat = smooth(e, 0), cond = cpu.upload(TiledNetworkTest.random(22, 1, 77, d));
        LatentTiles blended = new LatentTiles(H2, W2, 16, 8, MULTIPLE);
        LatentTiles hard = new LatentTiles(H2, W2, 16, 8, MULTIPLE, 0.05);
        assertTrue(blended.size() >= 16, blended.toString());
        Tensor z = smooth(e, 0.9);
        FloatTensor zBlend, zHard;
        FloatTensor zWhole = cpu.download(new CFGDenoiser(unet(), schedule, cConcat, cond, null, 1f, 1f, false).denoise(cpu, z, 1f));
        try (TiledDenoiser t = new TiledDenoiser(unet(), schedule, cConcat, cond, null, 1f, 1f, blended, 1)) {
            zBlend = cpu.download(t.denoise(cpu, z, 1f));
        }
        try (TiledDenoiser t = new TiledDenoiser(unet(), schedule, cConcat, cond, null, 1f, 1f, hard, 1)) {
            zHard = cpu.download(t.denoise(cpu, z, 1f));
        }
        for (boolean rows : new boolean[] {false, true}) {
            List<Integer> at = seams(blended, rows);
            // the hard cut switches tiles in the middle of each overlap
            List<Integer> mid = new ArrayList<>();
            for (int i = 0; i + 1 < LatentTiles.positions(rows ? H2 : W2, 16, 8, MULTIPLE).length; i++) {
                int[] p = LatentTiles.positions(rows ? H2 : W2, 16, 8, MULTIPLE);
                mid.add((p[i] + 16 + p[i + 1]) / 2 - 1);
            }
            List<Integer> all = new ArrayList<>(at);
            for (int m : mid) if (!all.contains(m)) all.add(m);
            double[] r = ratio(zBlend, zWhole, all, rows), rh = ratio(zHard, zWhole, all, rows);
            double bound = r[1] + 4 * r[2] / Math.sqrt(r[3]);
            double boundHard = rh[1] + 4 * rh[2] / Math.sqrt(rh[3]);
            System.out.printf("seams (%s): blended border %.4g vs elsewhere %.4g ± %.4g (bound %.4g); hard cut %.4g vs %.4g (bound %.4g)%n",
                    rows ? "rows" : "columns", r[0], r[1], r[2], bound, rh[0], rh[1], boundHard);
            assertTrue(r[0] <= bound, "a seam: mean gradient across borders " + r[0] + " > " + bound);
            assertTrue(rh[0] > boundHard, "the check cannot see the hard cut's seam: " + rh[0] + " <= " + boundHard);
        }
    }

}
