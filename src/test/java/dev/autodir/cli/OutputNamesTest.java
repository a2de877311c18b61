package dev.autodir.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The NAME rule for a batch and the output name template. */
class OutputNamesTest {
    private static List<String> names(String... files) {
        return OutputNames.names(java.util.Arrays.stream(files).map(Path::of).toList());
    }

    @Test
    void distinctStemsAreKeptAndSharedOnesGetTheirExtensionThenACounter() {
        assertEquals(List.of("a", "b.v2", "c"), names("in/a.png", "in/b.v2.jpg", "c"));
        assertEquals(List.of("noise_png", "noise_tiff", "other"), names("in/noise.png", "in/noise.tiff", "in/other.png"));
        assertEquals(List.of("noise_png", "noise_tiff", "noise_png_2", "noise_png_3"),
                names("a/noise.png", "a/noise.tiff", "b/noise.png", "c/noise.png"));
        assertEquals(List.of("x", "x_2"), names("a/x", "b/x"), "no extension: the counter alone");
    }

    @Test
    void templatesNeedNameAndNoPathOrOtherPlaceholder() {
        assertEquals("restored_a.png", OutputNames.output("restored_{name}", "a", "png"));
        assertEquals("a_restored.tiff", OutputNames.output(OutputNames.DEFAULT_TEMPLATE, "a", "tiff"));
        OutputNames.checkTemplate("{name}");
        assertEquals("must contain {name} (the input's name), got \"out\"",
                assertThrows(IllegalArgumentException.class, () -> OutputNames.checkTemplate("out")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> OutputNames.checkTemplate("dir/{name}"));
        assertThrows(IllegalArgumentException.class, () -> OutputNames.checkTemplate("{name}_{n}"));
    }
}
