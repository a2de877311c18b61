package dev.autodir.pipeline.tiling;

import dev.autodir.backend.Network;
import dev.autodir.backend.Shapes;
import dev.autodir.backend.record.Graph;

/**
 * What running a network untiled takes, from its recorded graph and nothing else: the peak of the activations alive
 * at once when the operations run in order and each result is freed after its last use (inputs included, weights
 * not), the largest single tensor, and the weights' bytes. Backends with a memory plan come close to the peak; the cpu
 * backend's heap holds garbage until a collection, so callers add a slack.
 *
 * @param peakBytes    activations alive at once, at most (float32)
 * @param largestElems elements of the largest activation (the cpu backend refuses a buffer over 2 GiB)
 * @param weightBytes  float32 bytes of the weights the network reads
 */
public record GraphMemory(long peakBytes, long largestElems, long weightBytes) {

    /** The cpu backend's limit for one buffer: 2 GiB of floats ({@code Integer.MAX_VALUE / 4} elements). */
    public static final long CPU_BUFFER_ELEMS = Integer.MAX_VALUE / Float.BYTES;

    public static GraphMemory of(Network network) {
        Graph g = Graph.record(network);
        int[] last = g.lastUses();
        long live = 0, peak = 0, largest = 0;
        long[] freeAt = new long[g.nodes().size() + 1];
        for (Graph.Value v : g.inputs()) live += v.bytes();
        for (Graph.Node n : g.nodes()) {
            long b = n.output().bytes();
            largest = Math.max(largest, Shapes.numel(n.output().shape()));
            live += b;
            peak = Math.max(peak, live);
            int end = last[n.output().id()];
            if (end >= 0 && end < freeAt.length) freeAt[end] += b;
            else if (end < 0) live -= b;                      // never read: freed at once
            live -= freeAt[n.index()];
        }
        return new GraphMemory(peak, largest, g.weightBytes());
    }

    public boolean fitsCpuBuffers() { return largestElems <= CPU_BUFFER_ELEMS; }
}
