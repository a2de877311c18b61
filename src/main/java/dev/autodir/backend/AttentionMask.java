package dev.autodir.backend;

import dev.autodir.tensor.IntTensor;

/**
 * Which keys a query may attend to. A key j is visible to query i when {@code !causal || j <= i} and,
 * where {@code keyKeep} is given, {@code keyKeep[b, j] != 0}. This is exactly what Hugging Face CLIP's
 * additive {@code finfo.min} masks compute in float32: a masked score underflows to a zero weight.
 *
 * @param causal  lower-triangular mask (the CLIP text tower)
 * @param keyKeep int32 [B, Nk] on the attention's backend, 1 for a real token and 0 for padding (the tokenizer's
 *                attention_mask); null for no padding mask
 */
public record AttentionMask(boolean causal, Tensor keyKeep) {
    public static final AttentionMask NONE = new AttentionMask(false, null);
    public static final AttentionMask CAUSAL = new AttentionMask(true, null);

    public AttentionMask {
        if (keyKeep != null && keyKeep.dataType() != DataType.INT32) {
            throw new IllegalArgumentException("attention mask: keyKeep must be int32, got " + keyKeep.dataType());
        }
    }

    /** A host mask from rows of 1 (keep) and 0 (pad), for the cpu backend and references. */
    public static AttentionMask of(boolean causal, int[][] keep) {
        return new AttentionMask(causal, keep == null ? null : IntTensor.of(keep));
    }

    public boolean isNone() { return !causal && keyKeep == null; }

    /** Whether query i of batch entry b sees key j; needs a host ({@link IntTensor}) keyKeep. */
    public boolean visible(int batch, int query, int key) {
        if (causal && key > query) return false;
        if (keyKeep == null) return true;
        if (!(keyKeep instanceof IntTensor k)) throw new IllegalStateException("visible(): the mask lives on a device");
        return k.data()[batch * k.dim(1) + key] != 0;
    }

    @Override public String toString() {
        return "AttentionMask[causal=" + causal + ", keyKeep=" + (keyKeep == null ? "none" : keyKeep) + "]";
    }
}
