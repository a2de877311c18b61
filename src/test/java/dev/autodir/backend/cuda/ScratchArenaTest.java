package dev.autodir.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The arena's bookkeeping, on a fake allocator that hands out addresses and counts what is live (no GPU). */
class ScratchArenaTest {
    /** Addresses from a counter, 4096-aligned like cudaMalloc's; every live block remembered with its size. */
    static final class FakeAllocator implements ScratchArena.Allocator {
        final Map<Long, Long> live = new HashMap<>();
        long next = 1L << 20;
        int allocations;

        @Override public long allocate(long bytes) {
            long a = next;
            next += (bytes + 4095) / 4096 * 4096 + 4096;
            live.put(a, bytes);
            allocations++;
            return a;
        }

        @Override public void free(long address) {
            if (live.remove(address) == null) throw new AssertionError("free of an address not allocated: " + address);
        }
    }

    @Test
    void bumpsAligned() {
        FakeAllocator fa = new FakeAllocator();
        try (ScratchArena arena = new ScratchArena(fa, 1 << 20)) {
            long base = fa.live.keySet().iterator().next();
            ScratchArena.Allocation a = arena.allocate(10);
            ScratchArena.Allocation b = arena.allocate(300);
            ScratchArena.Allocation c = arena.allocate(0);
            assertEquals(base, a.address());
            assertEquals(base + 256, b.address());
            assertEquals(base + 256 + 512, c.address());
            assertEquals(256 + 512 + 256, arena.top());
            assertFalse(a.spill());
        }
        assertTrue(fa.live.isEmpty(), "close leaked " + fa.live);
    }

    @Test
    void releasePopsOnlyTheTop() {
        FakeAllocator fa = new FakeAllocator();
        try (ScratchArena arena = new ScratchArena(fa, 1 << 20)) {
            ScratchArena.Allocation a = arena.allocate(1000);
            ScratchArena.Allocation b = arena.allocate(1000);
            assertFalse(arena.release(a), "not the top: nothing happens");
            assertEquals(2048, arena.top());
            assertTrue(arena.release(b));
            assertEquals(1024, arena.top());
            assertTrue(arena.release(a));
            assertEquals(0, arena.top());
            ScratchArena.Allocation c = arena.allocate(10);
            arena.endStage();
            assertFalse(arena.release(c), "an allocation of an ended stage is not released again");
        }
    }

    @Test
    void spillsThenGrowsAtEndOfStage() {
        FakeAllocator fa = new FakeAllocator();
        try (ScratchArena arena = new ScratchArena(fa, 1 << 20)) {
            arena.allocate(600 << 10);
            ScratchArena.Allocation s = arena.allocate(600 << 10);   // does not fit: a separate allocation
            assertTrue(s.spill());
            assertTrue(arena.needsSyncBeforeEndStage());
            assertEquals(2, fa.live.size());
            Lifetime first = arena.lifetime();
            arena.endStage();
            assertFalse(first.alive(), "the stage's tensors must become invalid");
            assertTrue(arena.lifetime().alive());
            assertEquals(1, fa.live.size(), "the spill is freed and the block replaced");
            assertTrue(arena.capacity() >= (1200 << 10), "capacity " + arena.capacity() + " below the stage's need");
            assertEquals(0, arena.capacity() % ScratchArena.GROWTH_QUANTUM);
            assertFalse(arena.allocate(600 << 10).spill());
            assertFalse(arena.allocate(600 << 10).spill());
        }
        assertTrue(fa.live.isEmpty(), "close leaked " + fa.live);
    }

    @Test
    void frozenArenaRefusesToSpill() {
        FakeAllocator fa = new FakeAllocator();
        try (ScratchArena arena = new ScratchArena(fa, 1 << 20)) {
            arena.freeze();
            arena.allocate(1 << 19);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> arena.allocate(1 << 20));
            assertTrue(e.getMessage().contains("capturing"), e.getMessage());
            assertThrows(IllegalStateException.class, arena::endStage);
            arena.unfreeze();
            arena.endStage();
        }
    }

    @Test
    void reservationsSurviveEndStage() {
        FakeAllocator fa = new FakeAllocator();
        try (ScratchArena arena = new ScratchArena(fa, 1 << 20)) {
            arena.allocate(1000);                     // a stage tensor below the graph
            long mark = arena.top();
            Object graph = new Object();
            arena.allocate(5000);                     // the graph's tensors
            arena.reserve(mark, graph);
            long end = arena.top();
            arena.endStage();
            assertEquals(end, arena.top(), "endStage must not rewind into a live graph's region");
            ScratchArena.Allocation after = arena.allocate(256);
            assertTrue(after.offset() >= end);
            arena.endStage();
            arena.unreserve(graph);
            assertEquals(0, arena.floor());
            arena.endStage();
            assertEquals(0, arena.top());
        }
    }

    @Test
    void noGrowthWhileAGraphHoldsTheBlock() {
        FakeAllocator fa = new FakeAllocator();
        try (ScratchArena arena = new ScratchArena(fa, 1 << 20)) {
            Object graph = new Object();
            arena.allocate(1000);
            arena.reserve(0, graph);
            long capacity = arena.capacity();
            arena.allocate(2 << 20);                 // spills
            arena.endStage();
            assertEquals(capacity, arena.capacity(), "the block moved under a captured graph");
            assertEquals(1, fa.live.size());
        }
        assertTrue(fa.live.isEmpty());
    }

    @Test
    void closeFreesSpillsAndBlock() {
        FakeAllocator fa = new FakeAllocator();
        ScratchArena arena = new ScratchArena(fa, 1 << 20);
        arena.allocate(3 << 20);
        arena.allocate(3 << 20);
        assertEquals(3, fa.live.size());
        Lifetime l = arena.lifetime();
        arena.close();
        arena.close();
        assertTrue(fa.live.isEmpty(), "leaked " + fa.live);
        assertFalse(l.alive());
        assertThrows(IllegalStateException.class, () -> arena.allocate(1));
    }
}
