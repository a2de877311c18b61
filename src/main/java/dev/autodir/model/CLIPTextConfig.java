package dev.autodir.model;

/** Hugging Face {@code CLIPTextTransformer} plus {@code text_projection}. */
public record CLIPTextConfig(int vocabSize, int hidden, int intermediate, int layers, int heads,
                             int maxPositions, int projectionDim, float layerNormEps) {
    public CLIPTextConfig {
        ConfigRanges.in("CLIP text vocab_size", vocabSize, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("CLIP text hidden_size", hidden, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("CLIP text intermediate_size", intermediate, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("CLIP text num_hidden_layers", layers, 1, ConfigRanges.MAX_DEPTH);
        ConfigRanges.in("CLIP text num_attention_heads", heads, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("CLIP text max_position_embeddings", maxPositions, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.in("CLIP projection_dim", projectionDim, 1, ConfigRanges.MAX_WIDTH);
        ConfigRanges.epsilon("CLIP text layer_norm_eps", layerNormEps);
    }

    public static CLIPTextConfig official() {
        return new CLIPTextConfig(49408, 768, 3072, 12, 12, 77, 768, 1e-5f);
    }
}
