package dev.autodir.backend;

import java.util.Arrays;

/**
 * Which keys a query may attend to. A key j is visible to query i when {@code !causal || j <= i} and,
 * where {@code keyKeep} is given, {@code keyKeep[b][j] != 0}. This is exactly what Hugging Face CLIP's
 * additive {@code finfo.min} masks compute in float32: a masked score underflows to a zero weight.
 *
 * @param causal  lower-triangular mask (the CLIP text tower)
 * @param keyKeep per batch row, 1 for a real token and 0 for padding (the tokenizer's attention_mask);
 *                null for no padding mask
 */
public record AttentionMask(boolean causal, int[][] keyKeep) {
    public static final AttentionMask NONE = new AttentionMask(false, null);
    public static final AttentionMask CAUSAL = new AttentionMask(true, null);

    public boolean isNone() { return !causal && keyKeep == null; }

    public boolean visible(int batch, int query, int key) {
        if (causal && key > query) return false;
        return keyKeep == null || keyKeep[batch][key] != 0;
    }

    @Override public String toString() {
        return "AttentionMask[causal=" + causal + ", keyKeep=" + (keyKeep == null ? "none" : Arrays.deepToString(keyKeep)) + "]";
    }
}
