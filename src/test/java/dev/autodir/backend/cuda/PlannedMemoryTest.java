package dev.autodir.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A compiled network's planned memory as its capture sees it, on a fake block address (no GPU). */
class PlannedMemoryTest {
    private static final long A = ScratchArena.ALIGNMENT, BASE = 1L << 30;

    private static MemoryPlan plan() {
        return MemoryPlan.of(List.of(new MemoryPlan.Request(4 * A, 0, 1), new MemoryPlan.Request(A, 1, 2), new MemoryPlan.Request(4 * A, 2, 3)));
    }

    @Test
    void handsOutThePlannedRangesInOrder() {
        MemoryPlan p = plan();
        Lifetime life = new Lifetime("capture");
        PlannedMemory m = new PlannedMemory(BASE, p, life, "net");
        ScratchArena.Allocation a = m.allocate(4 * A - 10), b = m.allocate(1), c = m.allocate(4 * A);
        assertEquals(BASE + p.offset(0), a.address());
        assertEquals(BASE + p.offset(1), b.address());
        assertEquals(BASE + p.offset(2), c.address());
        assertEquals(a.address(), c.address(), "the first and the third do not live together: one range");
        assertTrue(a.lifetime() == life && !a.spill());
        assertFalse(m.release(c), "nothing is given back early");
        m.checkComplete();
    }

    @Test
    void aRunThatAllocatesDifferentlyFailsTheCapture() {
        MemoryPlan p = plan();
        PlannedMemory bigger = new PlannedMemory(BASE, p, new Lifetime("capture"), "net");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> bigger.allocate(5 * A));
        assertTrue(e.getMessage().contains("net") && e.getMessage().contains("same work"), e.getMessage());

        PlannedMemory more = new PlannedMemory(BASE, p, new Lifetime("capture"), "net");
        more.allocate(4 * A);
        more.allocate(A);
        more.allocate(4 * A);
        assertThrows(IllegalStateException.class, () -> more.allocate(A));

        PlannedMemory fewer = new PlannedMemory(BASE, p, new Lifetime("capture"), "net");
        fewer.allocate(4 * A);
        assertThrows(IllegalStateException.class, fewer::checkComplete);
        assertThrows(IllegalArgumentException.class, () -> new PlannedMemory(BASE + 8, p, new Lifetime("x"), "net"));
    }
}
