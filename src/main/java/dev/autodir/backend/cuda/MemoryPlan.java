package dev.autodir.backend.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Where each transient allocation of a compiled network lives inside one private block: allocations whose lifetimes
 * overlap get disjoint byte ranges, the others may share. A lifetime is a closed range of operation indices
 * ({@link Request#first()}: the operation that allocates it; {@link Request#last()}: the last one that reads it, or
 * past the end for the network's outputs); one stream orders every kernel, so memory whose last reader has been
 * queued may be written by the next operation.
 *
 * <p>Placement is greedy by size: the largest allocation first, each at the lowest offset that overlaps no placed
 * allocation live at the same time (the heuristic TFLite's arena planner and others use; within a few percent of
 * {@link #peakLive()}, the lower bound, on networks of this shape). The block never moves afterwards, so a captured
 * CUDA graph may hold its addresses.
 */
final class MemoryPlan {
    /** One allocation: {@code bytes} (a multiple of {@link ScratchArena#ALIGNMENT}), live over operations [first, last]. */
    record Request(long bytes, int first, int last) {
        Request {
            if (bytes < 0 || bytes % ScratchArena.ALIGNMENT != 0) {
                throw new IllegalArgumentException("request of " + bytes + " bytes (must be a non-negative multiple of " + ScratchArena.ALIGNMENT + ")");
            }
            if (first < 0 || last < first) throw new IllegalArgumentException("lifetime [" + first + ", " + last + "] is empty or negative");
        }

        boolean overlapsInTime(Request o) { return first <= o.last && o.first <= last; }
    }

    private final List<Request> requests;
    private final long[] offsets;
    private final long bytes;

    private MemoryPlan(List<Request> requests, long[] offsets, long bytes) {
        this.requests = requests;
        this.offsets = offsets;
        this.bytes = bytes;
    }

    static MemoryPlan of(List<Request> requests) {
        List<Request> rs = List.copyOf(requests);
        int n = rs.size();
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> {
            int c = Long.compare(rs.get(b).bytes(), rs.get(a).bytes());
            if (c != 0) return c;
            c = Integer.compare(rs.get(a).first(), rs.get(b).first());
            return c != 0 ? c : Integer.compare(a, b);
        });
        long[] offsets = new long[n];
        List<Integer> placed = new ArrayList<>();   // indices, kept sorted by offset
        long end = 0;
        for (int i : order) {
            Request r = rs.get(i);
            long candidate = 0;
            for (int j : placed) {
                Request p = rs.get(j);
                if (!p.overlapsInTime(r)) continue;
                if (candidate + r.bytes() <= offsets[j]) break;                    // fits in the gap below j
                candidate = Math.max(candidate, offsets[j] + p.bytes());
            }
            offsets[i] = candidate;
            int at = 0;
            while (at < placed.size() && offsets[placed.get(at)] <= candidate) at++;
            placed.add(at, i);
            end = Math.max(end, candidate + r.bytes());
        }
        return new MemoryPlan(rs, offsets, end);
    }

    int count() { return requests.size(); }

    Request request(int i) { return requests.get(i); }

    long offset(int i) { return offsets[i]; }

    /** The block's size. */
    long bytes() { return bytes; }

    /** What the allocations would take without reuse (the bump arena's need). */
    long unplannedBytes() {
        long n = 0;
        for (Request r : requests) n += r.bytes();
        return n;
    }

    /** The most bytes live at any one operation: no plan can be smaller. */
    long peakLive() {
        int ops = 0;
        for (Request r : requests) ops = Math.max(ops, r.last() + 1);
        long[] delta = new long[ops + 1];
        for (Request r : requests) {
            delta[r.first()] += r.bytes();
            delta[r.last() + 1] -= r.bytes();
        }
        long live = 0, peak = 0;
        for (int t = 0; t < ops; t++) {
            live += delta[t];
            peak = Math.max(peak, live);
        }
        return peak;
    }

    /** Throws when two allocations live at the same time share a byte (the plan's invariant; for tests and checks). */
    void verify() {
        int n = requests.size();
        for (int i = 0; i < n; i++) {
            Request a = requests.get(i);
            if (offsets[i] % ScratchArena.ALIGNMENT != 0 || offsets[i] + a.bytes() > bytes) {
                throw new IllegalStateException("allocation " + i + " at " + offsets[i] + " is misaligned or outside the block of " + bytes);
            }
            for (int j = i + 1; j < n; j++) {
                Request b = requests.get(j);
                boolean space = offsets[i] < offsets[j] + b.bytes() && offsets[j] < offsets[i] + a.bytes();
                if (space && a.bytes() > 0 && b.bytes() > 0 && a.overlapsInTime(b)) {
                    throw new IllegalStateException("allocations " + i + " " + a + " and " + j + " " + b + " overlap at offsets "
                            + offsets[i] + " and " + offsets[j]);
                }
            }
        }
    }

    /** "1453 allocations in 312.5 MiB (peak live 301.0 MiB; 2.3 GiB without reuse)". */
    String describe() {
        return count() + " allocations in " + mib(bytes) + " (peak live " + mib(peakLive()) + ", " + mib(unplannedBytes()) + " without reuse)";
    }

    static String mib(long b) {
        return String.format(java.util.Locale.ROOT, "%.1f MiB", b / 1048576.0);
    }
}
