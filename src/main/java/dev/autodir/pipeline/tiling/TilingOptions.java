package dev.autodir.pipeline.tiling;

import java.util.Locale;

/**
 * How a restoration tiles large images, validated on construction.
 *
 * @param mode          {@link Mode#AUTO} tiles a stage when running it whole would exceed the memory budget (and the
 *                      diffusion when the latent is larger than {@link #AUTO_LATENT_PIXELS}); {@link Mode#OFF} never
 *                      tiles; {@link Mode#ON} tiles every stage
 * @param latentTile    the side of a diffusion tile in latent pixels (64 = 512 image pixels); the VAE and SCM tiles'
 *                      cores are this many latent pixels too (in image pixels: times the VAE's factor)
 * @param overlap       the least overlap of neighbouring diffusion tiles in latent pixels
 * @param memoryBudget  bytes a stage may use in all (weights included); 0 for the default: 2/3 of the machine's memory
 *                      for a cpu stage, the device's memory for a cuda stage
 * @param biqaCrops     BIQA's 224 crops per side: 1 is the official centre crop; n &gt; 1 averages the probabilities
 *                      (and the conditioning) over an n×n grid of crops spread evenly over the image, corners included
 * @param tileBatch     diffusion tiles per UNet call; 0 for the backend's default (1 on cpu, 4 elsewhere)
 */
public record TilingOptions(Mode mode, int latentTile, int overlap, long memoryBudget, int biqaCrops, int tileBatch) {
    public enum Mode { AUTO, OFF, ON }

    /** AUTO tiles the diffusion above this latent size (a 1024×1024 image): beyond it the UNet's attention dominates. */
    public static final long AUTO_LATENT_PIXELS = 128L * 128;
    public static final int MAX_BIQA_CROPS = 8;

    public TilingOptions {
        if (mode == null) mode = Mode.AUTO;
        if (latentTile < 8 || latentTile > 1024) throw new IllegalArgumentException("tile side must be in 8..1024 latent pixels, got " + latentTile);
        if (overlap < 0 || overlap >= latentTile) {
            throw new IllegalArgumentException("tile overlap must be in 0.." + (latentTile - 1) + " latent pixels, got " + overlap);
        }
        if (memoryBudget < 0) throw new IllegalArgumentException("memory budget must not be negative, got " + memoryBudget);
        if (biqaCrops < 1 || biqaCrops > MAX_BIQA_CROPS) throw new IllegalArgumentException("BIQA crops per side must be in 1.." + MAX_BIQA_CROPS + ", got " + biqaCrops);
        if (tileBatch < 0 || tileBatch > 64) throw new IllegalArgumentException("tile batch must be in 0..64, got " + tileBatch);
    }

    /** Automatic tiling, 64-latent-pixel tiles (512 px) overlapping by 16, the default budget, the official centre crop. */
    public static TilingOptions defaults() { return new TilingOptions(Mode.AUTO, 64, 16, 0, 1, 0); }

    /** "auto", "off" or a latent tile side N (then every stage is tiled with it). */
    public static TilingOptions parseTiles(String value, TilingOptions base) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "auto" -> base.withMode(Mode.AUTO);
            case "off" -> base.withMode(Mode.OFF);
            default -> {
                int n;
                try {
                    n = Integer.parseInt(v);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("tiles must be auto, off or a latent tile side in pixels, got \"" + value + "\"");
                }
                yield new TilingOptions(Mode.ON, n, Math.min(base.overlap(), n - 1), base.memoryBudget(), base.biqaCrops(), base.tileBatch());
            }
        };
    }

    /** "16g", "1500m", "512k", "12000000000" (bytes; a trailing "b" is allowed: "16gb"), "auto" (0, the default). */
    public static long parseBytes(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        if (v.equals("auto")) return 0;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*([kmgt]?)b?").matcher(v);
        if (!m.matches()) throw new IllegalArgumentException("memory budget must be a size such as 16g or 1500m, got \"" + value + "\"");
        int shift = switch (m.group(2)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        double bytes = Double.parseDouble(m.group(1)) * (1L << shift);
        if (!(bytes >= 1) || bytes > Long.MAX_VALUE / 2) throw new IllegalArgumentException("memory budget must be a positive size, got \"" + value + "\"");
        return (long) bytes;
    }

    public TilingOptions withMode(Mode m) { return new TilingOptions(m, latentTile, overlap, memoryBudget, biqaCrops, tileBatch); }
    public TilingOptions withLatentTile(int t) { return new TilingOptions(mode, t, Math.min(overlap, t - 1), memoryBudget, biqaCrops, tileBatch); }
    public TilingOptions withOverlap(int o) { return new TilingOptions(mode, latentTile, o, memoryBudget, biqaCrops, tileBatch); }
    public TilingOptions withMemoryBudget(long b) { return new TilingOptions(mode, latentTile, overlap, b, biqaCrops, tileBatch); }
    public TilingOptions withBiqaCrops(int n) { return new TilingOptions(mode, latentTile, overlap, memoryBudget, n, tileBatch); }
    public TilingOptions withTileBatch(int n) { return new TilingOptions(mode, latentTile, overlap, memoryBudget, biqaCrops, n); }

    /** "auto", "off" or the tile side, as --tiles takes it. */
    public String tilesLabel() { return mode == Mode.ON ? Integer.toString(latentTile) : mode.name().toLowerCase(Locale.ROOT); }
}
