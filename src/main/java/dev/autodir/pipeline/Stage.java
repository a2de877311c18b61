package dev.autodir.pipeline;

import java.util.Locale;

/** The stages of one restoration pass, in the order they run. */
public enum Stage {
    /** Automatic mode: CLIP scores the image against the remaining degradation classes. */
    BIQA,
    /** Prompt mode: the text tower encodes the user's prompt (first pass only). */
    PROMPT,
    /** The VAE encodes the (padded) pass input to the concat conditioning. */
    VAE_ENCODE,
    /** Euler-ancestral sampling: one UNet evaluation (three with guidance) per step. */
    SAMPLE,
    /** The VAE decodes the sampled latent. */
    VAE_DECODE,
    /** The structural correction module (NAFNet). */
    SCM;

    /** "biqa", "vae_encode", ... (the names of the JSON report). */
    public String key() { return name().toLowerCase(Locale.ROOT); }
}
