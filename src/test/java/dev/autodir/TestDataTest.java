package dev.autodir;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which golden set A the tests read: ../shared's when it is as new as the repository's copy, else the copy. */
class TestDataTest {
    @TempDir Path dir;

    private Path set(String name, String generator) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        Files.writeString(d.resolve("manifest.json"), "{\"set\": \"A\", \"generator\": \"" + generator + "\", \"cases\": []}");
        return d;
    }

    @Test
    void theCopyWhenSharedIsAbsent() throws IOException {
        Path copy = set("copy", "golden/make_goldens.py (harness version 1)");
        assertEquals(copy, TestData.chooseGoldenSet(dir.resolve("no-such-shared"), copy));
    }

    @Test
    void sharedWhenItIsTheSameOrNewer() throws IOException {
        Path copy = set("copy", "golden/make_goldens.py (harness version 1)");
        Path same = set("same", "golden/make_goldens.py (harness version 1)");
        Files.copy(copy.resolve("manifest.json"), same.resolve("manifest.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertEquals(same, TestData.chooseGoldenSet(same, copy));
        Path newer = set("newer", "golden/make_goldens.py (harness version 2)");
        assertEquals(newer, TestData.chooseGoldenSet(newer, copy));
    }

    @Test
    void theCopyWhenSharedIsOlder() throws IOException {
        Path copy = set("copy", "golden/make_goldens.py (harness version 3)");
        Path older = set("older", "golden/make_goldens.py (harness version 2)");
        assertEquals(copy, TestData.chooseGoldenSet(older, copy));
    }

    /** The copy in the repository is complete: every file its manifest names, and the three weight files. */
    @Test
    void theRepositoryCopyHoldsEveryFileOfItsManifest() throws IOException {
        Path copy = TestData.GOLDEN_A_COPY;
        var manifest = new com.fasterxml.jackson.databind.ObjectMapper().readTree(copy.resolve("manifest.json").toFile());
        int cases = 0;
        for (var c : manifest.path("cases")) {
            assertTrue(Files.isRegularFile(copy.resolve(c.path("file").asText())), c.path("file").asText());
            cases++;
        }
        assertTrue(cases >= 14, cases + " cases");
        for (String f : new String[] {"weights.safetensors", "weights.ckpt", "weights-fp16.ckpt"}) {
            assertTrue(Files.isRegularFile(copy.resolve(f)), f);
        }
        assertTrue(Files.isRegularFile(TestData.TOKENIZER_GOLDEN_COPY));
        assertTrue(Files.isRegularFile(TestData.VOCABULARY_COPY));
    }
}
