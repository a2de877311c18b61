package dev.autodir.model.clip;

import dev.autodir.tensor.FloatTensor;

/**
 * The CLIP image processor as AutoDIR calls it (do_resize=False), on the host: the reference for every backend's
 * {@link dev.autodir.backend.Ops#clipPixelValues}.
 */
public final class CLIPImageProcessor {
    /** OpenAI CLIP's image normalisation. */
    public static final float[] MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    public static final float[] STD = {0.26862954f, 0.26130258f, 0.27577711f};

    private CLIPImageProcessor() { }

    /**
     * image [1, 3, H, W] in [-1, 1] → (x+1)·255/2, centre crop S×S of the full image (zero padding where the image is
     * smaller, as Hugging Face pads), ·1/255, (v − mean)/std; all float32 → [1, 3, S, S].
     */
    public static FloatTensor pixelValues(FloatTensor image, int size, float[] mean, float[] std) {
        if (image.rank() != 4 || image.dim(0) != 1 || image.dim(1) != 3) {
            throw new IllegalArgumentException("clipPixelValues: expects one RGB image [1, 3, H, W], got " + image);
        }
        int h = image.dim(2), w = image.dim(3);
        // HF center_crop: offset (n - size) // 2 where the image is large enough; a smaller side is first zero-padded
        // to size with the image at (size - n) // 2, so its offset is minus that.
        int top = h >= size ? (h - size) / 2 : -((size - h) / 2);
        int left = w >= size ? (w - size) / 2 : -((size - w) / 2);
        float[] out = new float[3 * size * size];
        float rescale = (float) (1.0 / 255.0);
        float[] src = image.data();
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < size; y++) {
                int sy = y + top;
                for (int x = 0; x < size; x++) {
                    int sx = x + left;
                    float v = 0f;                                   // the padding value of HF's crop
                    if (sy >= 0 && sy < h && sx >= 0 && sx < w) v = (src[(c * h + sy) * w + sx] + 1f) * 255f / 2f;
                    v = v * rescale;
                    out[(c * size + y) * size + x] = (v - mean[c]) / std[c];
                }
            }
        }
        return new FloatTensor(out, 1, 3, size, size);
    }
}
