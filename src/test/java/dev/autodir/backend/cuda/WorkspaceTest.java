package dev.autodir.backend.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cuDNN workspace's growth on a fake allocator (no GPU): a buffer a captured graph may hold is never freed under
 * it. (The bug this prevents: a graph replayed after a workspace or arena regrew read freed memory.)
 */
class WorkspaceTest {
    @Test
    void growsAndFreesTheOldBufferWhenNoGraphLives() {
        ScratchArenaTest.FakeAllocator fa = new ScratchArenaTest.FakeAllocator();
        int[] syncs = {0};
        try (Workspace w = new Workspace("ws", fa, () -> false)) {
            w.ensure(1000, true, () -> syncs[0]++);
            long first = w.address();
            w.ensure(500, true, () -> syncs[0]++);
            assertEquals(first, w.address(), "a smaller need keeps the buffer");
            w.ensure(5000, true, () -> syncs[0]++);
            assertTrue(w.address() != first && !fa.live.containsKey(first), "the outgrown buffer is freed");
            assertEquals(1, fa.live.size());
            assertEquals(2, syncs[0], "every growth synchronises first");
            assertThrows(IllegalStateException.class, () -> w.ensure(10_000, false, () -> { }), "no growth inside a capture");
        }
        assertTrue(fa.live.isEmpty(), "close leaked " + fa.live);
    }

    @Test
    void aBufferOutgrownWhileGraphsLiveIsKeptUntilTheyClose() {
        ScratchArenaTest.FakeAllocator fa = new ScratchArenaTest.FakeAllocator();
        boolean[] graphs = {true};
        try (Workspace w = new Workspace("ws", fa, () -> graphs[0])) {
            w.ensure(1000, true, () -> { });
            long held = w.address();              // a graph captured now holds this address
            w.ensure(4000, true, () -> { });
            w.ensure(9000, true, () -> { });
            assertTrue(fa.live.containsKey(held), "the address a graph holds must stay allocated");
            assertEquals(3, fa.live.size());
            assertEquals(1000 + 4000, w.retiredBytes());
            assertThrows(IllegalStateException.class, w::releaseRetired, "not while graphs live");
            graphs[0] = false;
            w.releaseRetired();
            assertEquals(1, fa.live.size());
            assertEquals(0, w.retiredBytes());
            graphs[0] = true;
            w.ensure(20_000, true, () -> { });    // retired again; close frees current and retired alike
        }
        assertTrue(fa.live.isEmpty(), "close leaked " + fa.live);
    }
}
