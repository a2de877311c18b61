package dev.autodir.model;

/** The configurations of all AutoDIR networks, as inferred from a checkpoint (plus the YAML config). */
public record AutoDIRConfig(UNetConfig unet, VAEConfig vae, CLIPTextConfig clipText, CLIPVisionConfig clipVision,
                            NAFNetConfig nafnet, ScheduleConfig schedule) {
    /** The official AutoDIR configuration (configs/generate.yaml, CLIP ViT-L/14, NAFNet width 64). */
    public static AutoDIRConfig official() {
        return new AutoDIRConfig(UNetConfig.official(), VAEConfig.official(), CLIPTextConfig.official(),
                CLIPVisionConfig.official(), NAFNetConfig.official(), ScheduleConfig.official());
    }

    /**
     * A tiny model of the official structure, for running the whole pipeline in seconds with random weights
     * ({@code --weights random:tiny}): every network keeps the official depth, levels, attention placement, image
     * geometry (VAE factor 8, UNet size multiple 64, CLIP 224/14, NAFNet padding to 16), the real 49408-token
     * vocabulary and the official schedule; only the widths, layer counts and block counts are cut.
     */
    public static AutoDIRConfig tiny() {
        java.util.List<Integer> mult = java.util.List.of(1, 2, 4, 4);
        return new AutoDIRConfig(
                new UNetConfig(8, 4, 32, mult, 2, java.util.List.of(0, 1, 2), 8, -1, 1, 64, false),
                new VAEConfig(3, 3, 32, mult, 2, 4, 4, true),
                new CLIPTextConfig(49408, 64, 256, 2, 4, 77, 32, 1e-5f),
                new CLIPVisionConfig(64, 256, 2, 4, 224, 14, 32, 1e-5f),
                new NAFNetConfig(6, 8, java.util.List.of(1, 1, 1, 1), 1, java.util.List.of(1, 1, 1, 1)),
                ScheduleConfig.official());
    }
}
