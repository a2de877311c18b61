package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.Networks;
import dev.autodir.model.clip.CLIPImageProcessor;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;
import dev.autodir.text.CLIPTokenizer;
import dev.autodir.text.TokenizedText;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Blind image quality assessment ({@code CLIPEmbedder.forward} + {@code eval_w_SCM.predict_logit}): CLIP scores
 * the image against "A photo needs {class} artifact reduction" for each remaining class; the conditioning is the
 * softmax-weighted sum of the prompts' text hidden states (encoded with the attention mask), and the dominant
 * class is the argmax of the probabilities.
 *
 * <p>All of it runs as one compiled network ({@link Networks#biqa}) on the CLIP stage's backend, so assessment →
 * conditioning stays on that backend. The network always scores the eight official prompts; a class already removed
 * gets a bias of −∞ before the softmax, hence probability exactly 0 and no share of the mixture, which is the official
 * computation over the remaining prompts.
 */
public final class BIQA {
    /** The degradation classes in the official order. */
    public static final List<String> CLASSES = List.of(
            "noise", "blur", "rain", "underexposure", "haze", "low resolution", "raindrop", "no");

    private final AutoDIRModels models;
    private final CLIPTokenizer tokenizer;
    private final NetworkCache cache;
    private final IntTensor promptIds, promptMask;      // [8, T]: every class's prompt
    private final IntTensor ones;                       // [1, T]: the mask of an unmasked prompt

    public BIQA(AutoDIRModels models, CLIPTokenizer tokenizer, NetworkCache cache) {
        this.models = models;
        this.tokenizer = tokenizer;
        this.cache = cache;
        int k = CLASSES.size();
        int[][] ids = new int[k][], mask = new int[k][];
        for (int i = 0; i < k; i++) {
            TokenizedText t = tokenizer.encode(prompt(CLASSES.get(i)));
            ids[i] = fold(t.ids());
            mask[i] = t.attentionMask();
        }
        this.promptIds = IntTensor.of(ids);
        this.promptMask = IntTensor.of(mask);
        int[] one = new int[promptIds.dim(1)];
        Arrays.fill(one, 1);
        this.ones = new IntTensor(one, 1, one.length);
    }

    public static String prompt(String cls) { return "A photo needs " + cls + " artifact reduction"; }

    /**
     * What the assessment found, on the host.
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

    /** An assessment with its conditioning still on the backend that computed it. */
    public record Assessment(Result result, Tensor conditioning) { }

    /** Assesses a host image [1, 3, H, W] in [-1, 1] against {@code classes}. */
    public Result assess(Ops ops, FloatTensor image, List<String> classes) {
        return assess(ops, ops.upload(image), classes).result();
    }

    /**
     * Assesses image [1, 3, H, W] in [-1, 1] (a tensor of {@code ops}) against {@code classes}, a subset of
     * {@link #CLASSES} in any order. The conditioning tensor is an output of the compiled network: valid until its
     * next run (on an eager backend, until {@code endStage()}).
     */
    public Assessment assess(Ops ops, Tensor image, List<String> classes) {
        if (classes.isEmpty()) throw new IllegalArgumentException("BIQA needs at least one class");
        int k = CLASSES.size();
        int[] index = new int[classes.size()];
        float[] bias = new float[k];
        Arrays.fill(bias, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < index.length; i++) {
            index[i] = CLASSES.indexOf(classes.get(i));
            if (index[i] < 0) throw new IllegalArgumentException("BIQA: \"" + classes.get(i) + "\" is not one of " + CLASSES);
            if (bias[index[i]] == 0f) throw new IllegalArgumentException("BIQA: class \"" + classes.get(i) + "\" is given twice");
            bias[index[i]] = 0f;
        }
        int size = models.config().clipVision().imageSize();
        Tensor pixels = ops.clipPixelValues(image, size, CLIPImageProcessor.MEAN, CLIPImageProcessor.STD);
        Map<String, Tensor> out = cache.get(ops, Networks.biqa(models, k, promptIds.dim(1))).run(Map.of(
                "input_ids", ops.upload(promptIds), "attention_mask", ops.upload(promptMask), "pixel_values", pixels,
                "class_bias", ops.uploadFloat32(new FloatTensor(bias, 1, k))));
        float[] logitsAll = ops.download(out.get("logits_per_image")).data(), probsAll = ops.download(out.get("probs")).data();
        float[] logits = new float[index.length], probs = new float[index.length];
        int[][] ids = new int[index.length][];
        int main = 0;
        for (int i = 0; i < index.length; i++) {
            logits[i] = logitsAll[index[i]];
            probs[i] = probsAll[index[i]];
            ids[i] = promptIds.row(index[i]);
            if (probs[i] > probs[main]) main = i;                                // torch.argmax: the first maximum
        }
        Tensor cond = out.get("c_crossattn");
        Result r = new Result(List.copyOf(classes), ids, ops.download(pixels), new FloatTensor(logits, 1, index.length),
                new FloatTensor(probs, 1, index.length), ops.download(cond), main);
        return new Assessment(r, cond);
    }

    /**
     * The text tower's last hidden state [1, T, D] of one prompt encoded without an attention mask (null and user
     * prompts), as a host copy.
     */
    public FloatTensor encodePrompt(Ops ops, String prompt) {
        IntTensor ids = new IntTensor(fold(tokenizer.encode(prompt).ids()), 1, ones.dim(1));
        Map<String, Tensor> out = cache.get(ops, Networks.clipText(models, 1, ones.dim(1)))
                .run(Map.of("input_ids", ops.upload(ids), "attention_mask", ops.upload(ones)));
        return ops.download(out.get("last_hidden_state"));
    }

    /** The ids a prompt gives the model (folded when the model's vocabulary is smaller than CLIP's). */
    public int[] tokenIds(String prompt) {
        return fold(tokenizer.encode(prompt).ids());
    }

    /** {@link #foldIds} for this model's text vocabulary and this tokenizer. */
    public int[] fold(int[] ids) {
        return foldIds(ids, models.config().clipText().vocabSize(), tokenizer.vocabularySize(), tokenizer.bosId(), tokenizer.eosId());
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

    /** The CLIP image processor on the host ({@link CLIPImageProcessor#pixelValues} with OpenAI's mean and std). */
    public static FloatTensor preprocess(FloatTensor image, int size) {
        return CLIPImageProcessor.pixelValues(image, size, CLIPImageProcessor.MEAN, CLIPImageProcessor.STD);
    }
}
