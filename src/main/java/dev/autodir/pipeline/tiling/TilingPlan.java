package dev.autodir.pipeline.tiling;

import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.Networks;
import dev.autodir.pipeline.MemoryEstimate;
import dev.autodir.pipeline.StageBackends;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a restoration of one image size tiles, decided before any work starts, from the networks' recorded graphs
 * ({@link GraphMemory}) and the memory budget of each stage's backend. A stage that cannot fit — untiled because
 * tiling is off, or even in tiles — is refused here with a message that says what does not fit and what to do.
 *
 * @param height       the image's height and width
 * @param padded       the padded size the VAE and the UNet see ({height, width})
 * @param encode       the VAE encoder
 * @param sample       the diffusion (UNet) stage
 * @param decode       the VAE decoder
 * @param scm          the SCM
 * @param biqaCrops    BIQA's crops per side (1: the official centre crop)
 */
public record TilingPlan(int height, int width, int[] padded, Stage encode, Stage sample, Stage decode, Stage scm, int biqaCrops) {

    /**
     * One stage's decision.
     *
     * @param tiled        whether it runs in tiles
     * @param how          for reports: "512 px cores, 24 tiles, ..." or "whole image"
     * @param untiledBytes what the stage would hold untiled (activations with the backend's slack, plus its weights)
     * @param budgetBytes  the budget it was measured against (weights included)
     * @param latentTile   diffusion: the latent tile side; VAE/SCM: the core side in image pixels
     * @param overlap      diffusion: the least overlap in latent pixels (0 otherwise)
     * @param batch        diffusion: tiles per UNet call (1 otherwise)
     * @param storeBytes   VAE/SCM: the native memory for maps kept between sweeps
     */
    public record Stage(String name, String backend, boolean tiled, String how, long untiledBytes, long budgetBytes,
                        int latentTile, int overlap, int batch, long storeBytes) {
        public Map<String, Object> asMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("tiled", tiled);
            m.put("how", how);
            m.put("backend", backend);
            m.put("untiled_estimate_gib", gb(untiledBytes));
            m.put("budget_gib", gb(budgetBytes));
            if (tiled && storeBytes > 0) m.put("kept_maps_budget_gib", gb(storeBytes));
            return m;
        }
    }

    public List<Stage> stages() { return List.of(encode, sample, decode, scm); }

    public boolean anyTiled() { return encode.tiled || sample.tiled || decode.tiled || scm.tiled; }

    /** One line for progress output. */
    public String summary() {
        if (!anyTiled()) return "not tiled (fits the memory budget of " + gbText(sample.budgetBytes) + ")";
        List<String> parts = new ArrayList<>();
        for (Stage s : stages()) if (s.tiled) parts.add(s.name + ": " + s.how);
        return "tiled: " + String.join("; ", parts);
    }

    /** GiB (2^30 bytes), to two decimals. */
    static double gb(long bytes) { return Math.round(bytes * 100.0 / (1L << 30)) / 100.0; }

    private static String gbText(long bytes) { return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30)); }

    // ==== planning ===============================================================================================

    /** The cpu backend's heap holds garbage until a collection: activations take about this much more than the plan. */
    static final double CPU_SLACK = 1.5;
    /** Device backends plan their memory: a little slack for the allocator. */
    static final double DEVICE_SLACK = 1.1;
    /** Float32 weights as the cpu backend holds them (native matrix layouts, Winograd copies of 3×3 kernels). */
    static final double CPU_WEIGHT_LAYOUT = 1.5;

    /**
     * Plans the restoration of an image of {@code height}×{@code width}: padded to the networks' multiple, each stage
     * measured untiled against its backend's budget. Throws {@link IllegalArgumentException} with a plain message
     * when a stage cannot run within the budget.
     */
    public static TilingPlan make(AutoDIRModels models, StageBackends backends, int height, int width, int passes, TilingOptions o,
                                  boolean guided) {
        int m = models.sizeMultiple(), f = models.config().vae().downsampleFactor();
        int ph = height + (m - height % m) % m, pw = width + (m - width % m) % m;
        int lh = ph / f, lw = pw / f;
        int tokens = models.config().clipText().maxPositions();
        long weightsCpu = 0, weightsOther = 0;
        Network enc = Networks.vaeEncode(models, 1, ph, pw), dec = Networks.vaeDecode(models, 1, lh, lw);
        Network unet = Networks.unet(models, guided ? 3 : 1, lh, lw, tokens), scm = Networks.scm(models, 1, height, width);
        GraphMemory gEnc = GraphMemory.of(enc), gDec = GraphMemory.of(dec), gUnet = GraphMemory.of(unet), gScm = GraphMemory.of(scm);
        long clipWeights = GraphMemory.of(Networks.biqa(models, 8, tokens)).weightBytes();
        Map<Ops, Long> resident = new java.util.IdentityHashMap<>();
        resident.merge(backends.vae(), gEnc.weightBytes() + gDec.weightBytes(), Long::sum);
        resident.merge(backends.unet(), gUnet.weightBytes(), Long::sum);
        resident.merge(backends.scm(), gScm.weightBytes(), Long::sum);
        resident.merge(backends.clip(), clipWeights, Long::sum);
        // whole images the loop holds on the host (input, padded copy, per pass the decode, the result, their corrections)
        long images = MemoryEstimate.of(models.config(), width, height, passes, stage -> true).imageBytes();
        String sizeText = width + "×" + height;
        Stage sEnc = networkStage("vae_encode", "the VAE encoder", sizeText, backends.vae(), gEnc, resident, o, models, images, f, lh * lw);
        Stage sDec = networkStage("vae_decode", "the VAE decoder", sizeText, backends.vae(), gDec, resident, o, models, images, f, lh * lw);
        Stage sScm = networkStage("scm", "the SCM", sizeText, backends.scm(), gScm, resident, o, models, images, f, 0);
        Stage sSample = diffusionStage(sizeText, backends.unet(), gUnet, resident, o, models, lh, lw, guided, images);
        return new TilingPlan(height, width, new int[] {ph, pw}, sEnc, sSample, sDec, sScm, o.biqaCrops());
    }

    /** The budget of a stage on {@code ops} (weights included). */
    static long budget(Ops ops, TilingOptions o) {
        if (o.memoryBudget() > 0) return o.memoryBudget();
        return MemoryBudget.defaultBytes(ops);
    }

    static double slack(Ops ops) { return ops.name().equals("cpu") ? CPU_SLACK : DEVICE_SLACK; }

    /** The cpu backend's activations live on the Java heap, which may be smaller than the budget. */
    static boolean heapHolds(Ops ops, long activations, long images) {
        return !ops.name().equals("cpu") || activations + images <= Runtime.getRuntime().maxMemory();
    }

    static long weights(Ops ops, Map<Ops, Long> resident) {
        long w = resident.getOrDefault(ops, 0L);
        return ops.name().equals("cpu") ? (long) (w * CPU_WEIGHT_LAYOUT) : w;
    }

    private static Stage networkStage(String name, String what, String size, Ops ops, GraphMemory g, Map<Ops, Long> resident,
                                      TilingOptions o, AutoDIRModels models, long images, int f, int latentTokens) {
        long budget = budget(ops, o), weights = weights(ops, resident);
        double slack = slack(ops);
        long untiled = weights + images + (long) (g.peakBytes() * slack);
        boolean cpu = ops.name().equals("cpu");
        boolean bufferTooLarge = cpu && !g.fitsCpuBuffers();
        boolean fits = untiled <= budget && !bufferTooLarge && heapHolds(ops, (long) (g.peakBytes() * slack), images);
        // auto also tiles a VAE whose mid-block attention would run over more than the whole-attention limit: its cost
        // (2·N²·C) grows with the square of the pixels, and in tiles it runs in windows instead
        boolean tile = switch (o.mode()) {
            case OFF -> false;
            case ON -> true;
            case AUTO -> !fits || latentTokens > TiledNetwork.DEFAULT_GLOBAL_ATTENTION_TOKENS;
        };
        if (!tile) {
            if (!fits) throw new IllegalArgumentException(tooLarge(what, size, untiled, budget, weights, bufferTooLarge ? g.largestElems() : 0, o));
            return new Stage(name, ops.name(), false, "whole image", untiled, budget, 0, 0, 1, 0);
        }
        int core = o.latentTile() * f;
        // one tile's working set: the network at the tile's size (core plus margins), as it would run untiled
        GraphMemory tileMem = null;
        while (true) {
            int side = o.latentTile() + Math.max(4, o.latentTile() / 4);       // latent pixels, with margins
            int px = side * f;
            Network tileNet = switch (name) {
                case "vae_encode" -> Networks.vaeEncode(models, 1, px, px);
                case "vae_decode" -> Networks.vaeDecode(models, 1, side, side);
                default -> Networks.scm(models, 1, px, px);
            };
            tileMem = GraphMemory.of(tileNet);
            if (!cpu || tileMem.fitsCpuBuffers() || core <= f * 8) break;
            core /= 2;
            o = o.withLatentTile(Math.max(8, o.latentTile() / 2));
        }
        // the mid attention's maps at the latent's size: q, k, v, the result and the blend's accumulator
        long attention = latentTokens == 0 ? 0 : 5L * 4 * models.config().vae().ch() * models.config().vae().chMult().get(models.config().vae().chMult().size() - 1) * latentTokens;
        long working = (long) (tileMem.peakBytes() * slack) + attention + images;
        long store = budget - weights - working;
        if (store < 0 || !heapHolds(ops, working, 0)) {
            throw new IllegalArgumentException(what + " of a " + size + " image does not fit the memory budget of " + gbText(budget)
                    + " even in tiles of " + core + " px: the weights take " + gbText(weights) + " and one tile about "
                    + gbText(working) + budgetHint(o));
        }
        String how = core + " px cores" + (latentTokens > TiledNetwork.DEFAULT_GLOBAL_ATTENTION_TOKENS ? ", mid attention in windows" : "");
        return new Stage(name, ops.name(), true, how, untiled, budget, core, 0, 1, store);
    }

    private static Stage diffusionStage(String size, Ops ops, GraphMemory g, Map<Ops, Long> resident, TilingOptions o,
                                        AutoDIRModels models, int lh, int lw, boolean guided, long images) {
        long budget = budget(ops, o), weights = weights(ops, resident);
        double slack = slack(ops);
        long untiled = weights + images + (long) (g.peakBytes() * slack);
        boolean bufferTooLarge = ops.name().equals("cpu") && !g.fitsCpuBuffers();
        boolean fits = untiled <= budget && !bufferTooLarge && heapHolds(ops, (long) (g.peakBytes() * slack), images);
        int multiple = 1 << (models.config().unet().levels() - 1);
        int tile = Math.max(multiple, o.latentTile() / multiple * multiple);
        boolean larger = lh > tile || lw > tile;
        boolean tiled = switch (o.mode()) {
            case OFF -> false;
            case ON -> true;
            case AUTO -> !fits || (larger && (long) lh * lw > TilingOptions.AUTO_LATENT_PIXELS);
        };
        if (!tiled) {
            if (!fits) throw new IllegalArgumentException(tooLarge("the diffusion (UNet)", size, untiled, budget, weights, bufferTooLarge ? g.largestElems() : 0, o));
            return new Stage("sample", ops.name(), false, "whole latent", untiled, budget, 0, 0, 1, 0);
        }
        int batch = o.tileBatch() > 0 ? o.tileBatch() : ops.name().equals("cpu") ? 1 : 4;
        LatentTiles lt = new LatentTiles(lh, lw, tile, Math.min(o.overlap(), Math.min(tile, Math.min(lh, lw)) - 1), multiple);
        batch = Math.min(batch, lt.size());
        int tokens = models.config().clipText().maxPositions();
        GraphMemory tileMem = GraphMemory.of(Networks.unet(models, batch * (guided ? 3 : 1), lt.tileHeight(), lt.tileWidth(), tokens));
        long need = weights + images + (long) (tileMem.peakBytes() * slack) + 8L * 4 * 4 * lh * lw;
        if (need > budget || (ops.name().equals("cpu") && !tileMem.fitsCpuBuffers())
                || !heapHolds(ops, (long) (tileMem.peakBytes() * slack), images)) {
            throw new IllegalArgumentException("the diffusion of a " + size + " image does not fit the memory budget of " + gbText(budget)
                    + " even in latent tiles of " + tile + " (batch " + batch + "): it needs about " + gbText(need) + budgetHint(o));
        }
        String how = lt.size() + " latent tiles of " + lt.tileHeight() + "×" + lt.tileWidth() + ", overlap ≥ " + o.overlap()
                + ", Gaussian blend σ = " + LatentTiles.SIGMA_FRACTION + "·side, batch " + batch;
        return new Stage("sample", ops.name(), true, how, untiled, budget, tile, o.overlap(), batch, 0);
    }

    private static String tooLarge(String what, String size, long need, long budget, long weights, long largest, TilingOptions o) {
        StringBuilder b = new StringBuilder(what + " of a " + size + " image does not fit untiled: ");
        if (largest > 0) {
            b.append(String.format(Locale.ROOT, "one of its tensors has %.2f billion values, more than the cpu backend's 2 GiB buffers hold",
                    largest / 1e9));
        } else {
            b.append("it needs about ").append(gbText(need)).append(" (weights ").append(gbText(weights)).append("), the memory budget is ")
                    .append(gbText(budget));
        }
        b.append(o.mode() == TilingOptions.Mode.OFF ? "; tiling is off: use --tiles auto to tile it" : "");
        return b.toString();
    }

    private static String budgetHint(TilingOptions o) {
        return o.memoryBudget() > 0 ? "; raise --memory-budget or use a smaller --tiles side" : "; use a smaller --tiles side or set --memory-budget";
    }

    /** The report's view. */
    public Map<String, Object> asMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("padded", padded[1] + "x" + padded[0]);
        for (Stage s : stages()) m.put(s.name, s.asMap());
        m.put("biqa_crops", biqaCrops == 1 ? "centre 224 crop" : biqaCrops + "x" + biqaCrops + " grid of 224 crops");
        return m;
    }
}
