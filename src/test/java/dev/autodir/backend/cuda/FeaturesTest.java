package dev.autodir.backend.cuda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The unverified-feature switches read from system properties (each test restores what it set). */
class FeaturesTest {
    private static final String[] NAMES = {"autodir.cuda.unverified", "autodir.cuda.attentionGemm", "autodir.cuda.fastKernels",
            "autodir.cuda.convIm2col", "autodir.cuda.convGraph", "autodir.cuda.graphs"};
    private final Map<String, String> saved = new HashMap<>();

    private void set(String name, String value) {
        if (!saved.containsKey(name)) saved.put(name, System.getProperty(name));
        System.setProperty(name, value);
    }

    @AfterEach
    void restore() {
        saved.forEach((k, v) -> {
            if (v == null) System.clearProperty(k);
            else System.setProperty(k, v);
        });
    }

    private void clearAll() {
        for (String n : NAMES) {
            if (!saved.containsKey(n)) saved.put(n, System.getProperty(n));
            System.clearProperty(n);
        }
    }

    @Test
    void everythingIsOffByDefault() {
        clearAll();
        assertEquals(Features.NONE, Features.fromProperties());
        assertEquals("none", Features.NONE.describe());
    }

    @Test
    void convGraphAloneAndUnderTheUmbrella() {
        clearAll();
        set("autodir.cuda.convGraph", "true");
        Features f = Features.fromProperties();
        assertEquals(new Features(false, false, false, true), f);
        assertEquals("convGraph (unverified)", f.describe());

        set("autodir.cuda.unverified", "true");
        assertEquals(Features.ALL, Features.fromProperties());
        assertTrue(Features.ALL.convGraph());
        assertEquals("all (unverified)", Features.ALL.describe());

        set("autodir.cuda.convGraph", "false");   // one switch wins over the umbrella
        Features most = Features.fromProperties();
        assertFalse(most.convGraph());
        assertTrue(most.convIm2col() && most.fastKernels() && most.attentionGemm() && most.graphs());
        assertEquals("attentionGemm fastKernels convIm2col graphs (unverified)", most.describe());
    }

    @Test
    void graphsAloneCompilesNetworksAsCudaGraphs() {
        clearAll();
        set("autodir.cuda.graphs", "true");
        Features f = Features.fromProperties();
        assertEquals(Features.NONE.withGraphs(true), f);
        assertTrue(f.graphs() && !f.convGraph() && !f.fastKernels());
        assertEquals("graphs (unverified)", f.describe());
        assertFalse(new Features(true, true, true, true).graphs(), "the four-flag form leaves networks eager");
    }

    @Test
    void aValueOtherThanTrueOrFalseNamesTheProperty() {
        clearAll();
        set("autodir.cuda.convGraph", "yes");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Features::fromProperties);
        assertTrue(e.getMessage().contains("autodir.cuda.convGraph") && e.getMessage().contains("\"yes\""), e.getMessage());
    }
}
