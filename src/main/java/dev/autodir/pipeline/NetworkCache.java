package dev.autodir.pipeline;

import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Networks compiled once per backend and input shapes, and reused: the UNet at the latent's shape for every step of
 * every pass, BIQA for every pass, the VAE and SCM per image size. Each network name keeps its {@link #PER_NAME} most
 * recently used shapes per backend (a batch of images of many sizes does not hold a compiled graph for each); an
 * evicted or closed network is closed.
 */
public final class NetworkCache implements AutoCloseable {
    /** Compiled shapes kept per network name and backend. */
    static final int PER_NAME = 2;

    private final Map<Ops, Map<String, Deque<Entry>>> byBackend = new IdentityHashMap<>();

    private record Entry(String key, CompiledNetwork compiled) { }

    /** The network compiled on {@code ops} (compiled now if this backend has not compiled those shapes yet). */
    public CompiledNetwork get(Ops ops, Network network) {
        String key = network.describe();
        Deque<Entry> entries = byBackend.computeIfAbsent(ops, o -> new LinkedHashMap<>())
                .computeIfAbsent(network.name(), n -> new ArrayDeque<>());
        for (Iterator<Entry> it = entries.iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (e.key.equals(key)) {
                it.remove();
                entries.addFirst(e);
                return e.compiled;
            }
        }
        CompiledNetwork c = ops.compile(network);
        entries.addFirst(new Entry(key, c));
        while (entries.size() > PER_NAME) entries.removeLast().compiled.close();
        return c;
    }

    /** How many compiled networks are held (for tests). */
    int size() {
        int n = 0;
        for (Map<String, Deque<Entry>> m : byBackend.values()) for (Deque<Entry> d : m.values()) n += d.size();
        return n;
    }

    @Override public void close() {
        RuntimeException first = null;
        for (Map<String, Deque<Entry>> m : byBackend.values()) {
            for (Deque<Entry> d : m.values()) {
                for (Entry e : d) {
                    try {
                        e.compiled.close();
                    } catch (RuntimeException ex) {
                        if (first == null) first = ex;
                    }
                }
            }
        }
        byBackend.clear();
        if (first != null) throw first;
    }
}
