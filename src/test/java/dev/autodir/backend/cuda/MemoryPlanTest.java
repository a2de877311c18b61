package dev.autodir.backend.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The memory plan of a compiled network: placement, reuse, the invariant, on synthetic lifetimes (no GPU). */
class MemoryPlanTest {
    private static final long A = ScratchArena.ALIGNMENT;

    private static MemoryPlan.Request r(long units, int first, int last) { return new MemoryPlan.Request(units * A, first, last); }

    @Test
    void aChainOfTemporariesReusesTwoBuffers() {
        // y_i = f(y_{i-1}): each result is read by the next operation only, so two buffers of the largest size suffice
        List<MemoryPlan.Request> rs = new ArrayList<>();
        for (int i = 0; i < 10; i++) rs.add(r(4, i, i + 1));
        MemoryPlan p = MemoryPlan.of(rs);
        p.verify();
        assertEquals(8 * A, p.bytes());
        assertEquals(8 * A, p.peakLive());
        assertEquals(40 * A, p.unplannedBytes());
        for (int i = 0; i + 2 < 10; i++) assertEquals(p.offset(i), p.offset(i + 2), "buffer of step " + i + " comes back two steps later");
    }

    @Test
    void aSkipConnectionKeepsItsBufferUntilItsLastRead() {
        // a long-lived residual (read at operation 9) next to a chain of short temporaries
        List<MemoryPlan.Request> rs = new ArrayList<>();
        rs.add(r(16, 0, 9));
        for (int i = 1; i < 9; i++) rs.add(r(2, i, i + 1));
        MemoryPlan p = MemoryPlan.of(rs);
        p.verify();
        assertEquals(20 * A, p.bytes());
        for (int i = 1; i < rs.size(); i++) {
            assertTrue(p.offset(i) >= 16 * A, "temporary " + i + " placed inside the live residual at " + p.offset(i));
        }
    }

    @Test
    void anOutputLivesPastEveryOperation() {
        // an output allocated first (live to the end) and a temporary at the last operation never share memory
        MemoryPlan p = MemoryPlan.of(List.of(r(3, 0, 5), r(3, 5, 5)));
        p.verify();
        assertEquals(6 * A, p.bytes());
    }

    @Test
    void disjointLifetimesShareTheSameOffset() {
        MemoryPlan p = MemoryPlan.of(List.of(r(5, 0, 1), r(3, 2, 3), r(5, 4, 4)));
        p.verify();
        assertEquals(5 * A, p.bytes());
        assertEquals(0, p.offset(0));
        assertEquals(0, p.offset(1));
        assertEquals(0, p.offset(2));
    }

    @Test
    void requestsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> new MemoryPlan.Request(100, 0, 0));   // not a multiple of the alignment
        assertThrows(IllegalArgumentException.class, () -> new MemoryPlan.Request(A, 3, 2));     // empty lifetime
        assertThrows(IllegalArgumentException.class, () -> new MemoryPlan.Request(A, -1, 2));
        assertEquals(0, MemoryPlan.of(List.of()).bytes());
    }

    @Test
    void overlappingLifetimesGetDisjointRanges() {
        MemoryPlan p = MemoryPlan.of(List.of(r(2, 0, 3), r(2, 1, 2), r(2, 3, 3)));
        p.verify();
        assertTrue(p.offset(0) != p.offset(1) && p.offset(0) != p.offset(2), "offsets " + p.offset(0) + " " + p.offset(1) + " " + p.offset(2));
        assertEquals(p.offset(1), p.offset(2), "the second is dead when the third is made");
    }

    /** Random lifetimes like a network's (mostly short, some long, a few outputs): valid, and near the lower bound. */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void randomLifetimesGiveAValidPlanNearTheBound(int seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int ops = 400;
        List<MemoryPlan.Request> rs = new ArrayList<>();
        for (int i = 0; i < ops; i++) {
            int count = 1 + rnd.nextInt(3);
            for (int k = 0; k < count; k++) {
                long units = 1 + (rnd.nextInt(10) == 0 ? rnd.nextInt(64) : rnd.nextInt(8));
                int span = rnd.nextInt(20) == 0 ? rnd.nextInt(ops) : rnd.nextInt(4);
                int last = rnd.nextInt(50) == 0 ? ops : Math.min(ops - 1, i + span);
                rs.add(r(units, i, last));
            }
        }
        MemoryPlan p = MemoryPlan.of(rs);
        p.verify();
        assertTrue(p.bytes() >= p.peakLive(), "below the lower bound");
        // greedy by size stays close to the bound on such lifetimes (a loose gate: 1.5x)
        assertTrue(p.bytes() <= 1.5 * p.peakLive(), "plan " + p.describe());
        assertTrue(p.bytes() < p.unplannedBytes() / 4, "little reuse: " + p.describe());
    }
}
