package dev.autodir.model;

/** The configurations of all AutoDIR networks, as inferred from a checkpoint (plus the YAML config). */
public record AutoDIRConfig(UNetConfig unet, VAEConfig vae, CLIPTextConfig clipText, CLIPVisionConfig clipVision,
                            NAFNetConfig nafnet, ScheduleConfig schedule) {
}
