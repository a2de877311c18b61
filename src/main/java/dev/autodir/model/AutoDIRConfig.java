package dev.autodir.model;

/** The configurations of all AutoDIR networks, as inferred from a checkpoint (plus the YAML config). */
public record AutoDIRConfig(UNetConfig unet, VAEConfig vae, CLIPTextConfig clipText, CLIPVisionConfig clipVision,
                            NAFNetConfig nafnet, ScheduleConfig schedule) {
    /** The official AutoDIR configuration (configs/generate.yaml, CLIP ViT-L/14, NAFNet width 64). */
    public static AutoDIRConfig official() {
        return new AutoDIRConfig(UNetConfig.official(), VAEConfig.official(), CLIPTextConfig.official(),
                CLIPVisionConfig.official(), NAFNetConfig.official(), ScheduleConfig.official());
    }
}
