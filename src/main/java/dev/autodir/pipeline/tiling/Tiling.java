package dev.autodir.pipeline.tiling;

import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.CFGDenoiser;
import dev.autodir.pipeline.Denoiser;
import dev.autodir.pipeline.KDiffusionSchedule;
import dev.autodir.pipeline.NetworkCache;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.pipeline.UNetEvaluator;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The restoration loop's access to tiling: the plan for an image size, and for each stage either the network the
 * cache compiled for the whole image or its tiled form, and the denoiser, tiled or not. Progress per tile goes to a
 * {@link Progress} callback.
 */
public final class Tiling {
    /** Progress of one tile. */
    public interface Progress {
        /**
         * @param stage  "sample", "vae_encode", "vae_decode" or "scm"
         * @param round  the sampler step, or the sweep of a tiled network (0-based)
         * @param rounds steps, or sweeps
         * @param tile   tiles done in this round (1-based: the tile just finished or started)
         * @param tiles  tiles per round
         */
        void onTile(String stage, int round, int rounds, int tile, int tiles);
    }

    private final AutoDIRModels models;
    private final StageBackends backends;
    private final NetworkCache cache;
    private final Map<String, TiledNetwork> tiled = new LinkedHashMap<>(4, 0.75f, true);

    public Tiling(AutoDIRModels models, StageBackends backends, NetworkCache cache) {
        this.models = models;
        this.backends = backends;
        this.cache = cache;
    }

    /** What to tile for an image of {@code height}×{@code width}; throws naming what does not fit. */
    public TilingPlan plan(int height, int width, int passes, TilingOptions options, boolean guided) {
        return TilingPlan.make(models, backends, height, width, passes, options, guided);
    }

    /** {@code network} on {@code ops}: compiled whole, or tiled as {@code stage} says. */
    public CompiledNetwork network(Ops ops, Network network, TilingPlan.Stage stage, Progress progress) {
        if (!stage.tiled()) return cache.get(ops, network);
        TiledNetwork.Settings s = new TiledNetwork.Settings(stage.latentTile(), stage.storeBytes(), TiledNetwork.DEFAULT_GLOBAL_ATTENTION_TOKENS,
                progress == null ? null : (name, sweep, sweeps, tile, tiles) -> progress.onTile(stage.name(), sweep, sweeps, tile + 1, tiles));
        String key = ops.name() + "@" + System.identityHashCode(ops) + " " + network.describe() + " " + stage.latentTile() + " " + stage.storeBytes();
        TiledNetwork t = tiled.get(key);
        if (t == null) {
            t = new TiledNetwork(ops, network, s);
            tiled.put(key, t);
            while (tiled.size() > 4) tiled.remove(tiled.keySet().iterator().next());
        }
        return t.withSettings(s);
    }

    /**
     * The guided denoiser for a pass: {@link CFGDenoiser} over the whole latent, or a {@link TiledDenoiser} (close it
     * after sampling: it keeps the conditioning's crops).
     */
    public Denoiser denoiser(UNetEvaluator unet, KDiffusionSchedule schedule, Tensor cConcat, Tensor cond, Tensor uncond, float sText,
                             float sImg, TilingPlan.Stage stage, int steps, Progress progress) {
        if (!stage.tiled()) return new CFGDenoiser(unet, schedule, cConcat, cond, uncond, sText, sImg, false);
        int[] s = cConcat.shape();
        int multiple = 1 << (models.config().unet().levels() - 1);
        LatentTiles lt = new LatentTiles(s[2], s[3], stage.latentTile(), Math.min(stage.overlap(), Math.min(stage.latentTile(), Math.min(s[2], s[3])) - 1), multiple);
        TiledDenoiser d = new TiledDenoiser(unet, schedule, cConcat, cond, uncond, sText, sImg, lt, stage.batch());
        if (progress != null) {
            int[] step = {0};
            d.withListener((first, done, tiles) -> {
                progress.onTile("sample", step[0], steps, done, tiles);
                if (done == tiles) step[0]++;
            });
        }
        return d;
    }

    /** Closes a denoiser made by {@link #denoiser} (a no-op for the untiled one). */
    public static void close(Denoiser d) {
        if (d instanceof TiledDenoiser t) t.close();
    }

    /** Backends whose stages are planned. */
    public StageBackends backends() { return backends; }
}
