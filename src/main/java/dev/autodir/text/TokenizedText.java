package dev.autodir.text;

import java.util.Arrays;

/**
 * One tokenized prompt, as the Hugging Face tokenizer returns it with {@code padding="max_length"}:
 * {@code ids} is BOS, up to 75 content tokens, EOS, then EOS again as padding; {@code attentionMask}
 * is 1 for BOS, the content and the closing EOS, and 0 for the padding. Both arrays have the same
 * length (77 for CLIP). The arrays are copied in and out, so an instance never changes.
 */
public record TokenizedText(int[] ids, int[] attentionMask) {
    public TokenizedText {
        if (ids.length != attentionMask.length) {
            throw new IllegalArgumentException(
                    "ids has " + ids.length + " entries but attentionMask has " + attentionMask.length);
        }
        ids = ids.clone();
        attentionMask = attentionMask.clone();
    }

    @Override public int[] ids() { return ids.clone(); }
    @Override public int[] attentionMask() { return attentionMask.clone(); }

    /** The padded length (77 for CLIP). */
    public int length() { return ids.length; }

    /** How many positions are attended: BOS + content + EOS. */
    public int attendedLength() {
        int n = 0;
        for (int m : attentionMask) n += m;
        return n;
    }

    @Override public boolean equals(Object o) {
        return o instanceof TokenizedText t && Arrays.equals(ids, t.ids) && Arrays.equals(attentionMask, t.attentionMask);
    }

    @Override public int hashCode() { return 31 * Arrays.hashCode(ids) + Arrays.hashCode(attentionMask); }

    @Override public String toString() {
        return "TokenizedText[ids=" + Arrays.toString(Arrays.copyOf(ids, attendedLength()))
                + " + " + (ids.length - attendedLength()) + " padding]";
    }
}
