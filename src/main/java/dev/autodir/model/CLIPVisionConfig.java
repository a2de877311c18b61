package dev.autodir.model;

/** Hugging Face {@code CLIPVisionTransformer} plus {@code visual_projection}. */
public record CLIPVisionConfig(int hidden, int intermediate, int layers, int heads, int imageSize,
                               int patchSize, int projectionDim, float layerNormEps) {
    public int numPatches() { return (imageSize / patchSize) * (imageSize / patchSize); }

    public int numPositions() { return numPatches() + 1; }

    public static CLIPVisionConfig official() {
        return new CLIPVisionConfig(1024, 4096, 24, 16, 224, 14, 768, 1e-5f);
    }
}
