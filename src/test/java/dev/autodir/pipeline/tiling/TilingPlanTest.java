package dev.autodir.pipeline.tiling;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.engine.TinyModel;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.pipeline.StageBackends;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The automatic choice and the memory check before work starts (planning reads shapes only, no weights). */
class TilingPlanTest {
    static AutoDIRModels official;
    static CpuOps cpu;
    static StageBackends backends;
    static final long GB = 1L << 30;

    @BeforeAll static void load() {
        AutoDIRConfig cfg = AutoDIRConfig.official();
        official = new AutoDIRModels(new RandomWeightStore(cfg, 1), cfg);
        cpu = new CpuOps();
        backends = StageBackends.all(cpu);
    }

    @AfterAll static void close() { cpu.close(); }

    static TilingPlan plan(int w, int h, TilingOptions o) { return TilingPlan.make(official, backends, h, w, 1, o, false); }

    @Test void aSmallImageIsNotTiledAndALargeOneIsTiledEverywhere() {
        TilingOptions auto = TilingOptions.defaults().withMemoryBudget(16 * GB);
        TilingPlan small = plan(512, 512, auto);
        assertFalse(small.anyTiled(), small.summary());
        TilingPlan big = plan(4096, 3072, auto);
        for (TilingPlan.Stage s : big.stages()) assertTrue(s.tiled(), s.name() + " of a 4096x3072 image: " + s);
        assertTrue(big.sample().how().startsWith("88 latent tiles of 64×64"), big.sample().how());
        assertEquals(512, big.decode().latentTile(), "VAE cores of 64 latent pixels = 512 image pixels");
        assertTrue(big.decode().storeBytes() > 0 && big.decode().storeBytes() < 16 * GB, big.decode().toString());
        assertEquals(4096 + "x" + 3072, big.asMap().get("padded"));
    }

    @Test void theDiffusionIsTiledAboveAMegapixelEvenWhenItWouldFit() {
        TilingPlan p = plan(1088, 1088, TilingOptions.defaults().withMemoryBudget(1000 * GB));
        assertTrue(p.sample().tiled(), "a 136x136 latent is tiled by size");
        assertFalse(p.sample().untiledBytes() > p.sample().budgetBytes(), "it would fit: " + p.sample());
        TilingPlan q = plan(1024, 1024, TilingOptions.defaults().withMemoryBudget(1000 * GB));
        assertFalse(q.sample().tiled(), "a 128x128 latent is not: " + q.sample());
    }

    /**
     * The VAE's mid-block attention costs 2·N²·C in the latent's N tokens: above {@link TiledNetwork#DEFAULT_GLOBAL_ATTENTION_TOKENS}
     * (128×128) {@code auto} tiles the encoder and decoder (their attention then runs in windows) even when the whole
     * image would fit in memory. Set A's VAE halves only once, so a 1024×1024 image has a 512×512 latent: run whole,
     * its encoder's attention over 262,144 tokens ran more than 12 minutes on the 2-core build machine.
     */
    @Test void theVaeIsTiledAboveTheWholeAttentionLimitEvenWhenItWouldFit() {
        TilingOptions roomy = TilingOptions.defaults().withMemoryBudget(1000 * GB);
        TilingPlan q = plan(1024, 1024, roomy);
        assertFalse(q.encode().tiled() || q.decode().tiled(), "a 128x128 latent's attention runs whole: " + q.summary());
        TilingPlan p = plan(1088, 1088, roomy);
        for (TilingPlan.Stage s : new TilingPlan.Stage[] {p.encode(), p.decode()}) {
            assertTrue(s.tiled(), "a 136x136 latent is tiled by its attention's size: " + s);
            assertTrue(s.how().contains("mid attention in windows"), s.how());
            assertFalse(s.untiledBytes() > s.budgetBytes(), "it would fit: " + s);
        }
        assertFalse(p.scm().tiled(), "the SCM has no attention: tiled by memory only: " + p.scm());
        try (AutoDIRModels tiny = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()))) {
            TilingPlan t = TilingPlan.make(tiny, backends, 1024, 1024, 1, roomy, false);
            assertTrue(t.encode().tiled() && t.decode().tiled(), "set A at 1024x1024 (a 512x512 latent): " + t.summary());
        }
    }

    @Test void forcedTilesAndNoTiles() {
        TilingPlan on = plan(512, 384, TilingOptions.parseTiles("32", TilingOptions.defaults()));
        for (TilingPlan.Stage s : on.stages()) assertTrue(s.tiled(), s.toString());
        assertEquals(32, on.sample().latentTile());
        assertEquals(256, on.scm().latentTile(), "cores of 32 latent pixels = 256 image pixels");
        TilingPlan off = plan(512, 384, TilingOptions.parseTiles("off", TilingOptions.defaults()));
        assertFalse(off.anyTiled());
    }

    @Test void whatDoesNotFitIsSaidInPlainWordsBeforeWork() {
        // untiled, the VAE decoder's 256-channel map of a 4096x3072 image has 3.2 billion values
        IllegalArgumentException off = assertThrows(IllegalArgumentException.class,
                () -> plan(4096, 3072, TilingOptions.parseTiles("off", TilingOptions.defaults()).withMemoryBudget(1000 * GB)));
        assertTrue(off.getMessage().contains("does not fit untiled") && off.getMessage().contains("billion values")
                && off.getMessage().contains("--tiles auto"), off.getMessage());
        // a budget below the weights cannot be met by tiling either
        IllegalArgumentException tiny = assertThrows(IllegalArgumentException.class,
                () -> plan(4096, 3072, TilingOptions.defaults().withMemoryBudget(4 * GB)));
        assertTrue(tiny.getMessage().contains("memory budget of 4.0 GiB") && tiny.getMessage().contains("even in"), tiny.getMessage());
    }

    @Test void tinyModelPlans() {
        try (AutoDIRModels tiny = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()))) {
            TilingPlan p = TilingPlan.make(tiny, backends, 40, 48, 2, TilingOptions.defaults(), true);
            assertFalse(p.anyTiled(), p.summary());
            assertTrue(p.summary().startsWith("not tiled"), p.summary());
        }
    }

    @Test void optionsAreChecked() {
        assertEquals(16L << 30, TilingOptions.parseBytes("16g"));
        assertEquals(16L << 30, TilingOptions.parseBytes("16GB"));
        assertEquals(1500L << 20, TilingOptions.parseBytes("1500m"));
        assertEquals(512L << 10, TilingOptions.parseBytes("512k"));
        assertEquals(0, TilingOptions.parseBytes("auto"));
        assertThrows(IllegalArgumentException.class, () -> TilingOptions.parseBytes("16q"));
        assertThrows(IllegalArgumentException.class, () -> TilingOptions.parseBytes("-1g"));
        assertThrows(IllegalArgumentException.class, () -> TilingOptions.parseTiles("many", TilingOptions.defaults()));
        assertThrows(IllegalArgumentException.class, () -> TilingOptions.parseTiles("4", TilingOptions.defaults()));
        assertThrows(IllegalArgumentException.class, () -> TilingOptions.defaults().withOverlap(64));
        assertThrows(IllegalArgumentException.class, () -> TilingOptions.defaults().withBiqaCrops(0));
        assertEquals("auto", TilingOptions.defaults().tilesLabel());
        assertEquals("48", TilingOptions.parseTiles("48", TilingOptions.defaults()).tilesLabel());
    }
}
