package dev.autodir.pipeline.tiling;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.pipeline.CFGDenoiser;
import dev.autodir.pipeline.Denoiser;
import dev.autodir.pipeline.KDiffusionSchedule;
import dev.autodir.pipeline.UNetEvaluator;

import java.util.ArrayList;
import java.util.List;

/**
 * Tiled latent diffusion (Mixture of Diffusers): every model call evaluates the guided denoiser on overlapping latent
 * tiles ({@link LatentTiles}) and blends the tiles' x₀ predictions with Gaussian weights that sum to one per latent
 * pixel. The sampler then takes its step on the whole latent, so the noise, the schedule and classifier-free guidance
 * are exactly the untiled ones; only the UNet sees tiles. Tiles are evaluated in batches of {@code batch} (one compiled
 * UNet of batch k, or 3k with three-branch guidance), for backends that gain from larger batches.
 *
 * <p>The blend is linear in each tile's prediction, so blending the guided x₀ (denoised = z − σ·eps) equals blending
 * eps: both give the same step. With one tile covering the latent the result is the untiled denoiser's exactly.
 *
 * <p>Every tensor here lives on the UNet stage's backend; the conditioning tensors passed in must outlive the sampling
 * (kept with {@link Ops#keep}); the cropped ones are kept here and freed by {@link #close()}.
 */
public final class TiledDenoiser implements Denoiser, AutoCloseable {
    /** Hears about each batch of tiles of each model call. */
    public interface TileListener {
        void onTiles(int firstTile, int tilesDone, int tiles);
    }

    private final LatentTiles tiles;
    private final int batch;
    private final List<CFGDenoiser> groups = new ArrayList<>();
    private final List<int[]> members = new ArrayList<>();
    private final Tensor[] weight;
    private final List<Tensor> owned = new ArrayList<>();
    private final int channels, height, width;
    private TileListener listener;

    /**
     * @param cConcat [1, E, h, w] the posterior mean of the whole input
     * @param cond    [1, T, D]; {@code uncond} [1, T, D] or null (as for {@link CFGDenoiser})
     */
    public TiledDenoiser(UNetEvaluator unet, KDiffusionSchedule schedule, Tensor cConcat, Tensor cond, Tensor uncond,
                         float sText, float sImg, LatentTiles tiles, int batch) {
        if (batch < 1) throw new IllegalArgumentException("tile batch must be at least 1, got " + batch);
        Ops ops = unet.ops();
        int[] s = cConcat.shape();
        this.channels = s[1];
        this.height = s[2];
        this.width = s[3];
        this.tiles = tiles;
        this.batch = batch;
        this.weight = new Tensor[tiles.size()];
        for (int t = 0; t < tiles.size(); t++) weight[t] = own(ops, ops.upload(tiles.weight(t, channels)));
        for (int first = 0; first < tiles.size(); first += batch) {
            int k = Math.min(batch, tiles.size() - first);
            int[] m = new int[k];
            List<Tensor> c = new ArrayList<>(), ctx = new ArrayList<>(), un = new ArrayList<>();
            for (int j = 0; j < k; j++) {
                m[j] = first + j;
                c.add(crop(ops, cConcat, tiles.tile(first + j)));
                ctx.add(cond);
                if (uncond != null) un.add(uncond);
            }
            Tensor cK = own(ops, k == 1 ? c.get(0) : ops.concat(c, 0));
            Tensor condK = k == 1 ? cond : own(ops, ops.concat(ctx, 0));
            Tensor uncondK = uncond == null ? null : k == 1 ? uncond : own(ops, ops.concat(un, 0));
            groups.add(new CFGDenoiser(unet, schedule, cK, condK, uncondK, sText, sImg, false));
            members.add(m);
        }
    }

    private Tensor own(Ops ops, Tensor t) {
        Tensor k = ops.keep(t);
        owned.add(k);
        return k;
    }

    private static Tensor crop(Ops ops, Tensor x, Rect r) {
        return ops.crop2d(x, r.y0(), r.x0(), r.height(), r.width());
    }

    public TiledDenoiser withListener(TileListener l) {
        this.listener = l;
        return this;
    }

    public LatentTiles tiles() { return tiles; }

    public int batch() { return batch; }

    @Override public Tensor denoise(Ops ops, Tensor z, float sigma) {
        Tensor acc = null;
        int done = 0;
        for (int g = 0; g < groups.size(); g++) {
            int[] m = members.get(g);
            List<Tensor> parts = new ArrayList<>(m.length);
            for (int t : m) parts.add(crop(ops, z, tiles.tile(t)));
            Tensor zK = m.length == 1 ? parts.get(0) : ops.concat(parts, 0);
            Tensor d = groups.get(g).denoise(ops, zK, sigma);                             // [k, E, th, tw]
            for (int j = 0; j < m.length; j++) {
                Rect r = tiles.tile(m[j]);
                Tensor dj = m.length == 1 ? d : ops.slice(d, 0, j, j + 1);
                Tensor full = ops.pad2d(ops.mul(dj, weight[m[j]]), r.y0(), height - r.y1(), r.x0(), width - r.x1());
                acc = acc == null ? full : ops.add(acc, full);
            }
            done += m.length;
            if (listener != null) listener.onTiles(m[0], done, tiles.size());
        }
        return acc;
    }

    @Override public void close() {
        for (Tensor t : owned) t.close();
        owned.clear();
    }

    @Override public String toString() { return "tiled diffusion: " + tiles + ", batch " + batch; }
}
