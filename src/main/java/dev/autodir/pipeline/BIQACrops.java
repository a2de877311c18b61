package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

import java.util.List;

/**
 * BIQA over several crops of a large image. The official assessment sees only the centre 224×224 crop of the
 * full-resolution image (0.4% of a 12-megapixel photo); with {@code n} crops per side it scores an n×n grid of 224
 * crops spread evenly over the image (the first and last flush with its edges, so corners are included; n = 3 on a
 * 4096×3072 photo: tops 0, 1424, 2848 and lefts 0, 1936, 3872) and averages the probabilities. The conditioning is
 * Σ p_k · H_k, linear in the probabilities, so the average of the crops' conditionings is the mixture of the averaged
 * probabilities. One crop per side, or an image no larger than the crop, is the official assessment itself.
 */
public final class BIQACrops {
    private BIQACrops() { }

    /** The tops (or lefts) of {@code n} crops of side {@code crop} spread over {@code length}. */
    public static int[] starts(int length, int crop, int n) {
        if (length <= crop || n == 1) return new int[] {length <= crop ? 0 : (length - crop) / 2};
        int[] s = new int[n];
        for (int i = 0; i < n; i++) s[i] = (int) Math.round((double) i * (length - crop) / (n - 1));
        return s;
    }

    /**
     * Assesses image [1, 3, H, W] in [-1, 1] (on {@code ops}) with {@code perSide}² crops of side {@code crop}; the
     * conditioning is a transient tensor of {@code ops}.
     */
    public static BIQA.Assessment assess(BIQA biqa, Ops ops, Tensor image, List<String> classes, int perSide, int crop) {
        int[] s = image.shape();
        int h = s[2], w = s[3];
        if (perSide <= 1 || (h <= crop && w <= crop)) return biqa.assess(ops, image, classes);
        int[] tops = starts(h, crop, perSide), lefts = starts(w, crop, perSide);
        int n = tops.length * lefts.length;
        Tensor condSum = null;
        float[] logits = null, probs = null;
        BIQA.Result first = null;
        for (int top : tops) {
            for (int left : lefts) {
                Tensor window = ops.crop2d(image, top, left, Math.min(crop, h), Math.min(crop, w));
                BIQA.Assessment a = biqa.assess(ops, window, classes);
                BIQA.Result r = a.result();
                if (first == null) {
                    first = r;
                    logits = new float[r.logits().numel()];
                    probs = new float[r.probs().numel()];
                }
                for (int k = 0; k < probs.length; k++) {
                    logits[k] += r.logits().data()[k] / n;
                    probs[k] += r.probs().data()[k] / n;
                }
                // a copy (scale by 1): the network's output is overwritten by its next run
                condSum = condSum == null ? ops.scale(a.conditioning(), 1f) : ops.add(condSum, a.conditioning());
            }
        }
        Tensor cond = ops.scale(condSum, 1f / n);
        int main = 0;
        for (int k = 1; k < probs.length; k++) if (probs[k] > probs[main]) main = k;       // the first maximum
        BIQA.Result avg = new BIQA.Result(first.classes(), first.tokenIds(), first.pixelValues(),
                new FloatTensor(logits, 1, logits.length), new FloatTensor(probs, 1, probs.length), ops.download(cond), main);
        return new BIQA.Assessment(avg, cond);
    }
}
