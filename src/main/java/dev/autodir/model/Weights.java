package dev.autodir.model;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.io.CheckpointException;
import dev.autodir.io.WeightStore;

/**
 * A view of a checkpoint under a key prefix, so that network code names its parameters exactly as the
 * official module does ({@code w.sub("in_layers").get(ops, "0.weight")} reads
 * {@code <prefix>in_layers.0.weight}). The backend converts and caches each tensor once.
 */
public final class Weights {
    private final WeightStore store;
    private final String prefix;

    public Weights(WeightStore store, String prefix) {
        this.store = store;
        this.prefix = prefix.isEmpty() || prefix.endsWith(".") ? prefix : prefix + ".";
    }

    public Weights sub(String name) { return new Weights(store, prefix + name); }

    public Weights sub(int index) { return sub(Integer.toString(index)); }

    public String key(String name) { return prefix + name; }

    public boolean has(String name) { return store.contains(prefix + name); }

    public WeightStore store() { return store; }

    /** The parameter {@code <prefix><name>} on the backend; a missing key names the file and the key. */
    public Tensor get(Ops ops, String name) {
        String key = prefix + name;
        if (!store.contains(key)) throw new CheckpointException(store.path(), "missing tensor \"" + key + "\"");
        return ops.weight(store, key);
    }

    /** Like {@link #get}, or null when the checkpoint has no such key (an optional bias). */
    public Tensor getOrNull(Ops ops, String name) {
        String key = prefix + name;
        return store.contains(key) ? ops.weight(store, key) : null;
    }

    @Override public String toString() { return "Weights[" + prefix + "]"; }
}
