package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.engine.TinyModel;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.pipeline.tiling.TilingOptions;
import dev.autodir.pipeline.tiling.TilingPlan;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tiled stages inside the restoration loop, on an image that needs padding (70×90: set A pads to its multiple of 4,
 * 72×92, and crops back), over two automatic passes (the second starts from the first's tiled result) with wavelet
 * colour correction of the outputs.
 */
class TiledRestoreTest {
    static AutoDIRModels models;
    static final int H = 70, W = 90;
    /** --tiles 8: diffusion tiles of 8 latent pixels, VAE and SCM cores of 16 image pixels (set A's VAE halves once). */
    static final TilingOptions TILES_8 = TilingOptions.parseTiles("8", TilingOptions.defaults());
    /** --tiles 8 --tile-overlap 2: fewer diffusion tiles (the lifetime check runs every op through its wrapper). */
    static final TilingOptions TILES_8_OVERLAP_2 = TILES_8.withOverlap(2);
    static final TilingOptions OFF = TilingOptions.parseTiles("off", TilingOptions.defaults());

    @BeforeAll static void load() {
        models = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()));
    }

    @AfterAll static void close() { if (models != null) models.close(); }

    static RestoreOptions options(TilingOptions t, int passes) {
        return RestoreOptions.defaults().withSteps(2).withMaxPasses(passes).withColorCorrect(ColorCorrection.Mode.WAVELET).withTiling(t);
    }

    record Run(Restorer.Outcome outcome, Map<String, Integer> tiles) { }

    static Run restore(StageBackends backends, TilingOptions t, UnaryOperator<TilingPlan> filter) {
        return restore(backends, t, filter, 2);
    }

    static Run restore(StageBackends backends, TilingOptions t, UnaryOperator<TilingPlan> filter, int passes) {
        Map<String, Integer> tiles = new TreeMap<>();
        try (Restorer r = new Restorer(models, backends, CLIPTokenizer.loadDefault())) {
            if (filter != null) r.planFilter(filter);
            Restorer.Outcome o = r.restore(TinyModel.image(H, W, 9), options(t, passes), null, new Restorer.Observer() {
                @Override public void onTile(int pass, String stage, int round, int rounds, int tile, int count) {
                    tiles.merge(stage, 1, Integer::sum);
                }
            });
            return new Run(o, tiles);
        }
    }

    /** The plan with the diffusion over the whole latent (the VAE and the SCM as planned). */
    static TilingPlan wholeDiffusion(TilingPlan p) {
        TilingPlan.Stage s = p.sample();
        TilingPlan.Stage whole = new TilingPlan.Stage("sample", s.backend(), false, "whole latent", s.untiledBytes(), s.budgetBytes(), 0, 0, 1, 0);
        return new TilingPlan(p.height(), p.width(), p.padded(), p.encode(), whole, p.decode(), p.scm(), p.biqaCrops());
    }

    static void assertClose(Restorer.Outcome want, Restorer.Outcome got, double tol) {
        assertEquals(want.passes().size(), got.passes().size(), "passes");
        assertTrue(got.passes().size() >= 1, "a pass ran");
        for (int p = 0; p < want.passes().size(); p++) {
            Restorer.PassResult a = want.passes().get(p), b = got.passes().get(p);
            assertEquals(a.chosenClass(), b.chosenClass(), "class of pass " + p);
            assertEquals(H, b.result().dim(2), "cropped back to the input's height");
            assertEquals(W, b.result().dim(3), "cropped back to the input's width");
            for (String[] k : new String[][] {{"cConcat"}, {"z"}, {"decoded"}, {"result"}, {"resultOut"}}) {
                FloatTensor x = pick(a, k[0]), y = pick(b, k[0]);
                double e = y.relL2(x);
                assertTrue(e <= tol, k[0] + " of pass " + p + ": rel-L2 " + e + " > " + tol);
            }
        }
        RestoreOptions o = options(OFF, want.passes().size());
        double e = AutoDIREngine.finalOutput(got, o).relL2(AutoDIREngine.finalOutput(want, o));
        assertTrue(e <= tol, "the colour-corrected final output: rel-L2 " + e);
    }

    private static FloatTensor pick(Restorer.PassResult r, String what) {
        return switch (what) {
            case "cConcat" -> r.cConcat();
            case "z" -> r.z();
            case "decoded" -> r.decoded();
            case "result" -> r.result();
            default -> r.resultOut();
        };
    }

    /**
     * With the VAE encoder, decoder and SCM in tiles (cores of 16 px, so 5×6 tiles and more per network) and the
     * diffusion whole, the loop gives the untiled result: the tiled networks are exact up to rounding (≤ 1e-5 each,
     * TiledNetworkTest), and the padding, the crop back, the second pass and the colour correction are whole-image host
     * steps around them. Tolerance 1e-4 (fp32, chained): each tiled network's rounding differences (sums in another
     * order, ~1e-6) go through two sampler steps, the decoder and the SCM, then a second pass that starts from them.
     */
    @Test void tiledVaeAndScmInTheLoopGiveTheUntiledResult() {
        Restorer.Outcome plain;
        try (CpuOps cpu = new CpuOps(); StageBackends b = StageBackends.all(cpu)) {
            plain = restore(b, OFF, null).outcome();
        }
        Run tiled;
        try (CpuOps cpu = new CpuOps(); StageBackends b = StageBackends.all(cpu)) {
            tiled = restore(b, TILES_8, TiledRestoreTest::wholeDiffusion);
        }
        for (String stage : new String[] {"vae_encode", "vae_decode", "scm"}) {
            assertTrue(tiled.tiles().getOrDefault(stage, 0) > 2 * 20, stage + " ran in tiles in both passes: " + tiled.tiles());
        }
        assertFalse(tiled.tiles().containsKey("sample"), "the diffusion ran whole: " + tiled.tiles());
        assertEquals(2, tiled.outcome().passes().size(), "two automatic passes ran");
        assertClose(plain, tiled.outcome(), 1e-4);
    }

    /**
     * Every stage tiled, the diffusion too, on backends that enforce the device lifetime contract (every transient
     * tensor dies at endStage(), which a tiled network calls between tiles), with the VAE and the SCM on a second
     * backend: the plain cpu backend's result (rel-L2 ≤ 1e-5, as in StageDataFlowTest). One pass (the default run);
     * {@link #everyStageTiledKeepsTheLifetimeContractOverTwoPassesOnOneAndTwoBackends} adds the second pass and the
     * single checking backend (90 s on the 2-core build machine).
     */
    @Test void everyStageTiledKeepsTheLifetimeContract() {
        Run plain;
        try (CpuOps cpu = new CpuOps(); StageBackends b = StageBackends.all(cpu)) {
            plain = restore(b, TILES_8_OVERLAP_2, null, 1);
        }
        assertTrue(plain.tiles().getOrDefault("sample", 0) > 0, "the diffusion ran in tiles: " + plain.tiles());
        Ops a = LifetimeCheckingOps.over(new CpuOps(), "A"), c = LifetimeCheckingOps.over(new CpuOps(), "B");
        try (StageBackends b = new StageBackends(a, c, a, c)) {      // clip=A, vae=B, unet=A, scm=B
            assertClose(plain.outcome(), restore(b, TILES_8_OVERLAP_2, null, 1).outcome(), 1e-5);
        } finally {
            c.close();
        }
    }

    @Tag("slow")
    @Test void everyStageTiledKeepsTheLifetimeContractOverTwoPassesOnOneAndTwoBackends() {
        Run plain;
        try (CpuOps cpu = new CpuOps(); StageBackends b = StageBackends.all(cpu)) {
            plain = restore(b, TILES_8, null);
        }
        assertEquals(2, plain.outcome().passes().size(), "two automatic passes ran");
        Ops checking = LifetimeCheckingOps.over(new CpuOps(), "checking");
        try (StageBackends b = StageBackends.all(checking)) {
            assertClose(plain.outcome(), restore(b, TILES_8, null).outcome(), 1e-5);
        }
        Ops a = LifetimeCheckingOps.over(new CpuOps(), "A"), c = LifetimeCheckingOps.over(new CpuOps(), "B");
        try (StageBackends b = new StageBackends(a, c, a, c)) {      // clip=A, vae=B, unet=A, scm=B
            assertClose(plain.outcome(), restore(b, TILES_8, null).outcome(), 1e-5);
        } finally {
            c.close();
        }
    }
}
