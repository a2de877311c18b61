package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.model.clip.CLIP;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;
import dev.autodir.text.TokenizedText;

import java.util.ArrayList;
import java.util.List;

/**
 * Blind image quality assessment ({@code CLIPEmbedder.forward} + {@code eval_w_SCM.predict_logit}): CLIP scores
 * the image against "A photo needs {class} artifact reduction" for each remaining class; the conditioning is the
 * softmax-weighted sum of the prompts' text hidden states (encoded with the attention mask), and the dominant
 * class is the argmax of the probabilities.
 */
public final class BIQA {
    /** The degradation classes in the official order. */
    public static final List<String> CLASSES = List.of(
            "noise", "blur", "rain", "underexposure", "haze", "low resolution", "raindrop", "no");
    /** OpenAI CLIP's image normalisation. */
    static final float[] MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    static final float[] STD = {0.26862954f, 0.26130258f, 0.27577711f};

    private final CLIP clip;
    private final CLIPTokenizer tokenizer;

    public BIQA(CLIP clip, CLIPTokenizer tokenizer) {
        this.clip = clip;
        this.tokenizer = tokenizer;
    }

    public static String prompt(String cls) { return "A photo needs " + cls + " artifact reduction"; }

    /**
     * What the assessment found.
     *
     * @param classes     the classes scored, in order
     * @param tokenIds    [K][T] the prompts' ids as the model sees them (folded for a reduced vocabulary)
     * @param pixelValues [1, 3, S, S] the CLIP input
     * @param logits      [1, K] logits_per_image
     * @param probs       [1, K] softmax of the logits
     * @param cCrossattn  [1, T, D] Σ p_k · H_k, the UNet conditioning
     * @param mainIndex   argmax of probs
     */
    public record Result(List<String> classes, int[][] tokenIds, FloatTensor pixelValues, FloatTensor logits,
                         FloatTensor probs, FloatTensor cCrossattn, int mainIndex) {
        public String main() { return classes.get(mainIndex); }

        public float probability(int k) { return probs.data()[k]; }
    }

    /** Assesses image [1, 3, H, W] in [-1, 1] against {@code classes}. */
    public Result assess(Ops ops, FloatTensor image, List<String> classes) {
        if (classes.isEmpty()) throw new IllegalArgumentException("BIQA needs at least one class");
        int k = classes.size();
        List<String> prompts = new ArrayList<>();
        for (String c : classes) prompts.add(prompt(c));
        int[][] ids = new int[k][], mask = new int[k][];
        for (int i = 0; i < k; i++) {
            TokenizedText t = tokenizer.encode(prompts.get(i));
            ids[i] = fold(t.ids());
            mask[i] = t.attentionMask();
        }
        FloatTensor pixels = preprocess(image, clip.visionConfig().imageSize());
        CLIP.TextOutput text = clip.encodeText(ops, ids, mask);                          // hidden [K, T, D]
        FloatTensor textEmbeds = ops.download(clip.projectText(ops, text.pooled()));    // [K, J]
        CLIP.VisionOutput vis = clip.encodeImage(ops, ops.upload(pixels));
        FloatTensor imageEmbeds = ops.download(clip.projectImage(ops, vis.pooled()));   // [1, J]
        FloatTensor perText = CLIP.logitsPerText(textEmbeds, imageEmbeds, clip.logitScale(ops)); // [K, 1]
        FloatTensor logits = new FloatTensor(perText.data().clone(), 1, k);             // .t() → [1, K]
        FloatTensor probs = softmax(logits);
        FloatTensor hidden = ops.download(text.lastHiddenState());                      // [K, T, D]
        int td = hidden.numel() / k;
        float[] mix = new float[td];
        for (int j = 0; j < td; j++) {                                                   // torch.mm(probs, H.reshape(K, -1))
            float acc = 0;
            for (int i = 0; i < k; i++) acc += probs.data()[i] * hidden.data()[i * td + j];
            mix[j] = acc;
        }
        int main = 0;
        for (int i = 1; i < k; i++) if (probs.data()[i] > probs.data()[main]) main = i;
        return new Result(List.copyOf(classes), ids, pixels, logits, probs,
                new FloatTensor(mix, 1, hidden.dim(1), hidden.dim(2)), main);
    }

    /** The text tower's last hidden state of one prompt encoded without an attention mask (null and user prompts). */
    public FloatTensor encodePrompt(Ops ops, String prompt) {
        TokenizedText t = tokenizer.encode(prompt);
        int[][] ids = {fold(t.ids())};
        return ops.download(clip.encodeText(ops, ids, null).lastHiddenState());
    }

    /** The ids a prompt gives the model (folded when the model's vocabulary is smaller than CLIP's). */
    public int[] tokenIds(String prompt) {
        return fold(tokenizer.encode(prompt).ids());
    }

    /** {@link #foldIds} for this model's text vocabulary and this tokenizer. */
    public int[] fold(int[] ids) {
        return foldIds(ids, clip.textConfig().vocabSize(), tokenizer.vocabularySize(), tokenizer.bosId(), tokenizer.eosId());
    }

    /**
     * Token ids for a text tower with a vocabulary of {@code v} entries. The real model (as large as the
     * tokenizer's vocabulary) takes the ids unchanged; the tiny test models of the golden fixtures take them folded:
     * BOS → v−2, EOS → v−1, any other id → id mod (v−2), which keeps EOS the largest id so pooling still finds it.
     */
    public static int[] foldIds(int[] ids, int v, int tokenizerVocab, int bos, int eos) {
        if (v >= tokenizerVocab) return ids.clone();
        if (v < 3) throw new IllegalArgumentException("a CLIP vocabulary of " + v + " entries cannot hold BOS and EOS");
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            out[i] = id == bos ? v - 2 : id == eos ? v - 1 : id % (v - 2);
        }
        return out;
    }

    /**
     * The CLIP image processor as AutoDIR calls it (do_resize=False): (x+1)·255/2, centre crop S×S of the full image
     * (zero padding where the image is smaller, as Hugging Face pads), ·1/255, (v − mean)/std; all float32.
     */
    public static FloatTensor preprocess(FloatTensor image, int size) {
        if (image.rank() != 4 || image.dim(0) != 1 || image.dim(1) != 3) {
            throw new IllegalArgumentException("BIQA expects one RGB image [1, 3, H, W], got " + image);
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
                    out[(c * size + y) * size + x] = (v - MEAN[c]) / STD[c];
                }
            }
        }
        return new FloatTensor(out, 1, 3, size, size);
    }

    /** Softmax over the last dimension of [1, K], in float32 with max subtraction. */
    static FloatTensor softmax(FloatTensor logits) {
        float[] l = logits.data(), p = new float[l.length];
        float max = Float.NEGATIVE_INFINITY;
        for (float v : l) max = Math.max(max, v);
        float sum = 0;
        for (int i = 0; i < l.length; i++) { p[i] = (float) Math.exp(l[i] - max); sum += p[i]; }
        for (int i = 0; i < l.length; i++) p[i] /= sum;
        return new FloatTensor(p, logits.shape());
    }
}
