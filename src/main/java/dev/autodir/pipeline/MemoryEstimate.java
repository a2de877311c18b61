package dev.autodir.pipeline;

import dev.autodir.model.AutoDIRConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * What restoring one image of a given size needs in host memory (the Java heap), worked out from the
 * networks' configs before any work starts, so an image that cannot fit fails at once with the numbers
 * instead of an OutOfMemoryError minutes in. An upper estimate, not an exact plan:
 *
 * <ul>
 *   <li>each stage on a host backend holds about {@value #LIVE_TENSORS} float32 activations of its widest
 *       full-resolution layer at once (input, output, residual, normalisation and the convolution's scratch):
 *       the VAE decoder's ch·ch_mult[1] channels after its last upsampling (256 for AutoDIR, ~5 KiB per pixel,
 *       which matches the 5.0 GB measured for a 1024x1024 decode), the VAE encoder's ch·ch_mult[0], the
 *       SCM's 2·width (NAFNet's expanded channels), the UNet's 8·model_channels per latent pixel (GEGLU);</li>
 *   <li>the images kept while it runs: the input, its padded copy, and per pass the decode, the SCM result
 *       and their colour-corrected forms ({@value #IMAGES_PER_PASS} images of 3 floats per pixel).</li>
 * </ul>
 *
 * <p>Stages on a device backend count only their host images (device memory is not estimated). This is the check
 * for untiled runs ({@code --tiles off}); with tiling, {@link dev.autodir.pipeline.tiling.TilingPlan} plans every
 * stage from its recorded graph and counts these images too ({@link #imageBytes}).
 */
public record MemoryEstimate(int width, int height, int paddedWidth, int paddedHeight, long imageBytes, List<Stage> stages) {
    /** Activations of a stage's widest layer alive at once. */
    static final int LIVE_TENSORS = 5;
    /** Images of [3, H, W] float32 kept per pass (decode, result and their corrected forms). */
    static final int IMAGES_PER_PASS = 4;

    /** One stage's activations: where they live, how many bytes, and the arithmetic in words. */
    public record Stage(String name, boolean onHost, long bytes, String how) { }

    /**
     * @param stageOnHost whether a stage ("clip", "vae", "unet", "scm") runs on a host backend
     */
    public static MemoryEstimate of(AutoDIRConfig config, int width, int height, int passes, Predicate<String> stageOnHost) {
        int multiple = config.vae().downsampleFactor() * (1 << (config.unet().levels() - 1));
        int pw = roundUp(width, multiple), ph = roundUp(height, multiple);
        long pixels = (long) pw * ph;
        long latent = pixels / ((long) config.vae().downsampleFactor() * config.vae().downsampleFactor());
        int scmMultiple = config.nafnet().padMultiple();
        long scmPixels = (long) roundUp(width, scmMultiple) * roundUp(height, scmMultiple);
        List<Integer> mult = config.vae().chMult();
        int decodeChannels = config.vae().ch() * mult.get(Math.min(1, mult.size() - 1));
        int encodeChannels = config.vae().ch() * mult.get(0);
        int scmChannels = 2 * config.nafnet().width();
        int unetChannels = 8 * config.unet().modelChannels() * config.unet().channelMult().get(0);
        List<Stage> stages = new ArrayList<>();
        stages.add(stage("the VAE encoder", "vae", encodeChannels, pixels, pw, ph, stageOnHost));
        stages.add(stage("the UNet", "unet", unetChannels, latent, pw / config.vae().downsampleFactor(),
                ph / config.vae().downsampleFactor(), stageOnHost));
        stages.add(stage("the VAE decoder", "vae", decodeChannels, pixels, pw, ph, stageOnHost));
        stages.add(stage("the SCM", "scm", scmChannels, scmPixels, roundUp(width, scmMultiple), roundUp(height, scmMultiple), stageOnHost));
        long image = 3L * Float.BYTES * pixels;
        long images = image * (2 + (long) IMAGES_PER_PASS * Math.max(passes, 1));
        return new MemoryEstimate(width, height, pw, ph, images, List.copyOf(stages));
    }

    private static Stage stage(String name, String key, int channels, long pixels, int w, int h, Predicate<String> onHost) {
        long bytes = (long) LIVE_TENSORS * channels * Float.BYTES * pixels;
        String how = String.format(Locale.ROOT, "%d channels x %dx%d x 4 bytes x %d live tensors", channels, w, h, LIVE_TENSORS);
        return new Stage(name, onHost.test(key), bytes, how);
    }

    private static int roundUp(int v, int m) {
        return (int) Math.min(Integer.MAX_VALUE, ((long) v + m - 1) / m * m);
    }

    /** The stage on a host backend that needs the most, or null when every stage runs on a device. */
    public Stage largestHostStage() {
        Stage best = null;
        for (Stage s : stages) if (s.onHost() && (best == null || s.bytes() > best.bytes())) best = s;
        return best;
    }

    /** Host bytes at the peak: the kept images plus the largest host stage. */
    public long hostBytes() {
        Stage s = largestHostStage();
        return imageBytes + (s == null ? 0 : s.bytes());
    }

    /** Null when the estimate fits {@code availableBytes}; else what does not fit, in words. */
    public String problem(long availableBytes) {
        long need = hostBytes();
        if (need <= availableBytes) return null;
        Stage s = largestHostStage();
        String stage = s == null ? "" : String.format(Locale.ROOT, " for %s at %dx%d (%s) and", s.name(),
                paddedWidth, paddedHeight, s.how());
        return String.format(Locale.ROOT, "an image of %dx%d needs about %s%s %s for the images kept over the passes;"
                        + " this JVM's heap may grow to %s (raise it with AUTODIR_JAVA_OPTS=-Xmx..., or restore a smaller"
                        + " image, or let it tile: --tiles auto)",
                width, height, gb(need), stage, gb(imageBytes), gb(availableBytes));
    }

    private static String gb(long bytes) {
        return String.format(Locale.ROOT, "%.1f GB", bytes / 1e9);
    }
}
