package dev.autodir.model;

/** Hugging Face {@code CLIPVisionTransformer} plus {@code visual_projection}. */
public record CLIPVisionConfig(int hidden, int intermediate, int layers, int heads, int imageSize,
                               int patchSize, int projectionDim, float layerNormEps) {
    public CLIPVisionConfig {
        ConfigRanges.in("CLIP vision hidden_size", hidden, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("CLIP vision intermediate_size", intermediate, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("CLIP vision num_hidden_layers", layers, 1, ConfigRanges.MAX_DEPTH);
        ConfigRanges.in("CLIP vision num_attention_heads", heads, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("CLIP vision image_size", imageSize, 1, 4096);
        ConfigRanges.in("CLIP vision patch_size", patchSize, 1, imageSize);
        ConfigRanges.in("CLIP projection_dim", projectionDim, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.epsilon("CLIP vision layer_norm_eps", layerNormEps);
    }

    public int numPatches() { return (imageSize / patchSize) * (imageSize / patchSize); }

    public int numPositions() { return numPatches() + 1; }

    public static CLIPVisionConfig official() {
        return new CLIPVisionConfig(1024, 4096, 24, 16, 224, 14, 768, 1e-5f);
    }
}
