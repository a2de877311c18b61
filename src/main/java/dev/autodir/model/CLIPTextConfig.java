package dev.autodir.model;

/** Hugging Face {@code CLIPTextTransformer} plus {@code text_projection}. */
public record CLIPTextConfig(int vocabSize, int hidden, int intermediate, int layers, int heads,
                             int maxPositions, int projectionDim, float layerNormEps) {
    public static CLIPTextConfig official() {
        return new CLIPTextConfig(49408, 768, 3072, 12, 12, 77, 768, 1e-5f);
    }
}
