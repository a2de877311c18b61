package dev.autodir.pipeline.tiling;

import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.engine.TinyModel;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.model.Networks;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tiled VAE encode/decode and tiled SCM against the untiled networks on images that fit both ways: with margins from
 * the receptive field and GroupNorm / channel-attention statistics over the whole image, tiling changes nothing but
 * rounding: rel-L2 ≤ 1e-5 (fp32), on golden set A's weights and on random weights of the official structure at a small
 * size, whether every intermediate map is kept or every one is recomputed.
 */
class TiledNetworkTest {
    static final double FP32 = 1e-5;
    static AutoDIRModels tiny, official;
    static CpuOps cpu;

    @BeforeAll static void load() {
        cpu = new CpuOps();
        AutoDIRConfig cfg = AutoDIRConfig.official();
        official = new AutoDIRModels(new RandomWeightStore(cfg, 11), cfg);
        if (java.nio.file.Files.isRegularFile(TinyModel.WEIGHTS)) tiny = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()));
    }

    @AfterAll static void close() {
        if (tiny != null) tiny.close();
        cpu.close();
    }

    static FloatTensor random(long seed, int... shape) {
        FloatTensor t = FloatTensor.zeros(shape);
        SplittableRandom r = new SplittableRandom(seed);
        float[] d = t.data();
        for (int i = 0; i < d.length; i++) d[i] = (float) (2 * r.nextDouble() - 1);
        return t;
    }

    /** Runs {@code net} untiled and tiled; asserts every output within rel-L2 {@code tol}; returns the tiled network. */
    static TiledNetwork compare(Network net, Map<String, FloatTensor> in, TiledNetwork.Settings settings, double tol) {
        Map<String, Tensor> up = new LinkedHashMap<>();
        in.forEach((k, v) -> up.put(k, cpu.upload(v)));
        Map<String, FloatTensor> want = new LinkedHashMap<>();
        cpu.compile(net).run(up).forEach((k, v) -> want.put(k, cpu.download(v)));
        TiledNetwork tiled = new TiledNetwork(cpu, net, settings);
        Map<String, Tensor> got = tiled.run(up);
        assertEquals(want.keySet(), got.keySet());
        for (String k : want.keySet()) {
            double e = cpu.download(got.get(k)).relL2(want.get(k));
            assertTrue(e <= tol, net.name() + " output " + k + ": rel-L2 " + e + " > " + tol + " (" + tiled + ")");
        }
        return tiled;
    }

    static Map<String, FloatTensor> image(String name, FloatTensor t) {
        Map<String, FloatTensor> m = new LinkedHashMap<>();
        m.put(name, t);
        return m;
    }

    // ---- golden set A (VAE factor 2, NAFNet width 8) ----------------------------------------------------------------

    @Test void goldenVaeEncodeKeptAndRecomputed() {
        Network net = Networks.vaeEncode(tiny, 1, 44, 36);
        Map<String, FloatTensor> in = image("image", random(1, 1, 3, 44, 36));
        TiledNetwork all = compare(net, in, new TiledNetwork.Settings(16, Long.MAX_VALUE, 1 << 20, null), FP32);
        assertTrue(all.grid().size() >= 4, "several tiles: " + all.grid());
        assertEquals(1.0, all.lastStats().recomputeFactor(), 1e-9, "with room for every map nothing is recomputed");
        TiledNetwork none = compare(net, in, new TiledNetwork.Settings(16, 0, 1 << 20, null), FP32);
        assertTrue(none.lastStats().recomputeFactor() > 1.5, "without room, maps are recomputed: " + none.lastStats());
        // with no budget only what must be kept is: the mid attention's q, k, v and result (64 channels of the 22×18
        // latent), then the outputs (moments 8, mean 4, logvar 4 channels)
        long mustKeep = 4L * 4 * 64 * 22 * 18 + 4L * 16 * 22 * 18;
        assertTrue(none.lastStats().peakStoredBytes() <= mustKeep, none.lastStats() + " kept more than " + mustKeep);
        assertTrue(all.lastStats().peakStoredBytes() > mustKeep, "with room, maps are kept: " + all.lastStats());
    }

    @Test void goldenVaeDecode() {
        Network net = Networks.vaeDecode(tiny, 1, 20, 24);
        Map<String, FloatTensor> in = image("z", random(2, 1, 4, 20, 24));
        compare(net, in, new TiledNetwork.Settings(16, Long.MAX_VALUE, 1 << 20, null), FP32);
        compare(net, in, new TiledNetwork.Settings(12, 20_000, 1 << 20, null), FP32);
    }

    @Test void goldenScmAtASizeThatNeedsPadding() {
        Network net = Networks.scm(tiny, 1, 37, 45);                 // padded to 40×48 inside, cropped back
        Map<String, FloatTensor> in = image("input", random(3, 1, 6, 37, 45));
        in.put("scm_weight", new FloatTensor(new float[] {0.7f}, 1));
        TiledNetwork t = compare(net, in, new TiledNetwork.Settings(16, Long.MAX_VALUE, 0, null), FP32);
        assertTrue(t.grid().size() >= 4, t.grid().toString());
        compare(net, in, new TiledNetwork.Settings(8, 0, 0, null), FP32);
    }

    // ---- random weights of the official structure at a small size ---------------------------------------------------

    @Test void officialVaeDecodeAndEncode() {
        Network dec = Networks.vaeDecode(official, 1, 12, 16);       // a 96×128 image
        TiledNetwork t = compare(dec, image("z", random(4, 1, 4, 12, 16)), new TiledNetwork.Settings(64, 40_000_000, 1 << 20, null), FP32);
        assertTrue(t.grid().size() >= 4, t.grid().toString());
        Network enc = Networks.vaeEncode(official, 1, 96, 128);
        compare(enc, image("image", random(5, 1, 3, 96, 128)), new TiledNetwork.Settings(64, 20_000_000, 1 << 20, null), FP32);
    }

    @Test void officialScm() {
        Network net = Networks.scm(official, 1, 72, 88);
        Map<String, FloatTensor> in = image("input", random(6, 1, 6, 72, 88));
        in.put("scm_weight", new FloatTensor(new float[] {1f}, 1));
        compare(net, in, new TiledNetwork.Settings(32, 10_000_000, 0, null), FP32);
    }

    /**
     * Windowed attention (above the whole-map limit) is the one approximation: the result differs from the whole-map
     * attention by what the far-away tokens contribute. Measured here on set A's decoder (printed); bounded loosely so
     * that a broken blend (weights not summing to one, a window misplaced) fails.
     */
    @Test void windowedAttentionDeviation() {
        Network net = Networks.vaeDecode(tiny, 1, 32, 32);
        Map<String, FloatTensor> in = image("z", random(7, 1, 4, 32, 32));
        Map<String, Tensor> up = Map.of("z", cpu.upload(in.get("z")));
        FloatTensor want = cpu.download(cpu.compile(net).run(up).get("image"));
        TiledNetwork t = new TiledNetwork(cpu, net, new TiledNetwork.Settings(32, Long.MAX_VALUE, 0, null));
        FloatTensor got = cpu.download(t.run(up).get("image"));
        double e = got.relL2(want);
        System.out.printf("windowed VAE attention (set A decoder, 32x32 latent, %s): rel-L2 %.3g%n", t.grid(), e);
        assertTrue(t.lastStats().attentionWindowed());
        assertTrue(e > FP32, "windows see fewer tokens, so the result differs: " + e);
        assertTrue(e < 0.2, "windowed attention far from the whole-map result: " + e);
    }

    @Test void refusesWhatItCannotTile() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TiledNetwork(cpu, Networks.clipText(tiny, 1, 77), TiledNetwork.Settings.of(1)));
        assertTrue(e.getMessage().contains("clip-text"), e.getMessage());
    }

    @Test void convolutionWindowRule() {
        // 3×3, stride 1, padding 1 over rows [8, 24) of 40, exact on [8, 24): output rows [8, 24), exact [9, 23)
        int[] r = TiledNetwork.convWindow(8, 24, 8, 24, 40, 3, 1, 1);
        assertEquals(8, r[0]);
        assertEquals(24, r[1]);
        assertEquals(9, r[2]);
        assertEquals(23, r[3]);
        // at the top border the zero padding is the map's own: exact from row 0
        r = TiledNetwork.convWindow(0, 16, 0, 16, 40, 3, 1, 1);
        assertEquals(0, r[2]);
        assertEquals(15, r[3]);
        // 3×3 stride 2 without padding (the VAE's Downsample after its (0,1,0,1) pad) over [8, 25) of 41
        r = TiledNetwork.convWindow(8, 25, 8, 25, 41, 3, 2, 0);
        assertEquals(4, r[0]);
        assertEquals(12, r[1]);
        assertEquals(4, r[2]);
        assertEquals(12, r[3]);
    }
}
