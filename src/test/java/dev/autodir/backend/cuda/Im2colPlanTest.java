package dev.autodir.backend.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chunking of the im2col column buffer, without a GPU. */
class Im2colPlanTest {
    private static final long MIB = 1L << 20;

    /** Every pixel of every image exactly once, each chunk under the cap, aligned starts and leading dimensions. */
    @ParameterizedTest(name = "B{0} pixels {1} rows {2} cap {3}")
    @CsvSource({
            "2, 4096, 2880, 268435456",       // UNet 64² x 320: both images in one chunk (47 MB)
            "2, 1024, 5760, 268435456",       // UNet 32² x 640
            "2, 64, 11520, 268435456",        // UNet 8² x 1280
            "1, 262144, 1152, 268435456",     // VAE 512² x 128: 604 MB of columns, 3 chunks
            "1, 262144, 2304, 268435456",     // VAE 512² x 256: 1.2 GB, 5 chunks
            "3, 1440, 288, 147456",           // the GPU test's forced chunking: 256 pixels per chunk
            "3, 1440, 288, 1769472",          // two of three images fit
            "5, 49, 27, 8192",                // 128 padded pixels of 27 rows fit; whole images one at a time
            "1, 1, 1, 256",
    })
    void coversEveryPixelOnceWithinTheCap(int batch, int pixels, int rows, long cap) {
        Im2colPlan plan = Im2colPlan.of(batch, pixels, rows, cap);
        assertNotNull(plan, "a plan must exist for " + batch + " x " + pixels + " pixels x " + rows + " rows under " + cap);
        int[] covered = new int[batch * pixels];
        long largest = 0;
        for (Im2colPlan.Chunk c : plan.chunks()) {
            assertTrue(c.images() >= 1 && c.np() >= 1, "empty chunk " + c);
            assertTrue(c.ldc() >= c.np() && c.ldc() % Im2colPlan.PIXEL_QUANTUM == 0, "ldc of " + c);
            assertEquals(0, c.p0() % Im2colPlan.PIXEL_QUANTUM, "start of " + c);
            assertTrue(c.images() == 1 || (c.p0() == 0 && c.np() == pixels), "a multi-image chunk holds whole images: " + c);
            largest = Math.max(largest, c.columnBytes(rows));
            for (int i = c.image0(); i < c.image0() + c.images(); i++) {
                for (int p = c.p0(); p < c.p0() + c.np(); p++) covered[i * pixels + p]++;
            }
        }
        for (int i = 0; i < covered.length; i++) assertEquals(1, covered[i], "pixel " + i % pixels + " of image " + i / pixels);
        assertEquals(largest, plan.bufferBytes(), "the buffer is the largest chunk's columns");
        assertTrue(plan.bufferBytes() <= cap, "buffer " + plan.bufferBytes() + " over the cap " + cap);
    }

    @Test
    void wholeImagesShareAChunkWhenTheyFit() {
        Im2colPlan unet = Im2colPlan.of(2, 4096, 2880, 256 * MIB);
        assertEquals(1, unet.chunks().size(), "two 23.6 MB images in one chunk: " + unet.chunks());
        assertEquals(new Im2colPlan.Chunk(0, 2, 0, 4096, 4096), unet.chunks().get(0));
        // 3 images, 2 fit: balanced as 2 + 1 (ceil(3 / 2) per chunk)
        Im2colPlan three = Im2colPlan.of(3, 1440, 288, 2L * 288 * 1536 * 2);
        assertEquals(2, three.chunks().size(), three.chunks().toString());
        assertEquals(2, three.chunks().get(0).images());
        assertEquals(1, three.chunks().get(1).images());
    }

    @Test
    void largeImagesSplitIntoBalancedPixelRanges() {
        Im2colPlan vae = Im2colPlan.of(1, 512 * 512, 128 * 9, 256 * MIB);
        assertEquals(3, vae.chunks().size(), "604 MB of columns under 256 MiB: " + vae.chunks());
        // 262144 / 3 = 87381.3, rounded up to 128: 87424, 87424, 87296
        assertEquals(87424, vae.chunks().get(0).np());
        assertEquals(87424, vae.chunks().get(1).p0());
        assertEquals(262144 - 2 * 87424, vae.chunks().get(2).np());
        assertEquals(2L * 1152 * 87424, vae.bufferBytes());

        Im2colPlan forced = Im2colPlan.of(2, 1440, 288, 147456);   // 256 pixels of 288 rows = 147456 bytes
        assertEquals(2 * 6, forced.chunks().size(), forced.chunks().toString());
        assertEquals(new Im2colPlan.Chunk(1, 1, 1280, 160, 256), forced.chunks().get(11));
    }

    @Test
    void launchGeometryCoversTheChunk() {
        for (int np : new int[] {1, 7, 8, 49, 255, 256, 257, 2047, 2048, 2049, 87424, 262144}) {
            int t = Im2colPlan.threads(np);
            assertTrue(t % 32 == 0 && t >= 32 && t <= 256, "threads " + t + " for " + np);
            long blocks = Im2colPlan.blocks(np);
            assertTrue(blocks * t * 8 >= np && (blocks - 1) * t * 8 < np, np + " pixels: " + blocks + " blocks of " + t);
        }
    }

    @Test
    void noPlanWhenTheQuantumDoesNotFit() {
        assertNull(Im2colPlan.of(1, 4096, 2880, 2L * 2880 * 128 - 1));
        assertNotNull(Im2colPlan.of(1, 4096, 2880, 2L * 2880 * 128));
        assertThrows(IllegalArgumentException.class, () -> Im2colPlan.of(0, 4096, 2880, MIB));
        assertThrows(IllegalArgumentException.class, () -> Im2colPlan.of(1, 4096, 0, MIB));
    }
}
