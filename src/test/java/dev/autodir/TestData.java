package dev.autodir;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Where the tests find their data on any clone. The repository carries a copy of golden set A, of the tokenizer
 * goldens and of the CLIP vocabulary (src/test/resources/golden, src/main/resources); the folder {@code ../shared}
 * beside a checkout, where present, holds the live fixture sets. A test reads {@code ../shared/golden/A} when it is
 * there and at least as new as the copy (its manifest's harness version, from {@code generator}), else the copy;
 * {@code -Dautodir.golden=DIR} names another set. Data with no copy in the repository (the official demo images) is
 * reached through {@link #sharedOrSkip}, which skips naming the missing path.
 */
public final class TestData {
    /** The folder beside the repository that CI provides. */
    public static final Path SHARED = Path.of("..", "shared");
    /** The repository's own copy of golden set A. */
    public static final Path GOLDEN_A_COPY = Path.of("src", "test", "resources", "golden", "A");
    /** The repository's own copy of the tokenizer goldens. */
    public static final Path TOKENIZER_GOLDEN_COPY = Path.of("src", "test", "resources", "golden", "tokenizer", "clip_tokens.json");
    /** The CLIP BPE vocabulary the jar carries (byte-identical to ../shared/clip's). */
    public static final Path VOCABULARY_COPY = Path.of("src", "main", "resources", "dev", "autodir", "text", "bpe_simple_vocab_16e6.txt.gz");

    private static final Pattern HARNESS_VERSION = Pattern.compile("harness version (\\d+)");
    private static Path goldenA;

    private TestData() { }

    /** Golden set A: -Dautodir.golden, else ../shared/golden/A when it is as new as the copy, else the copy. */
    public static synchronized Path goldenA() {
        if (goldenA == null) {
            String override = System.getProperty("autodir.golden");
            goldenA = override != null ? Path.of(override) : chooseGoldenSet(SHARED.resolve("golden").resolve("A"), GOLDEN_A_COPY);
        }
        return goldenA;
    }

    /** A file of golden set A. */
    public static Path goldenA(String file) { return goldenA().resolve(file); }

    /**
     * {@code shared} when it holds a manifest whose harness version is at least the copy's (a regenerated set is
     * newer; the same version is the same data), else {@code copy}.
     */
    static Path chooseGoldenSet(Path shared, Path copy) {
        Path sharedManifest = shared.resolve("manifest.json"), copyManifest = copy.resolve("manifest.json");
        if (!Files.isRegularFile(sharedManifest)) return copy;
        if (!Files.isRegularFile(copyManifest)) return shared;
        try {
            byte[] a = Files.readAllBytes(sharedManifest), b = Files.readAllBytes(copyManifest);
            if (Arrays.equals(a, b)) return shared;
            return harnessVersion(a) >= harnessVersion(b) ? shared : copy;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read a golden manifest: " + e.getMessage(), e);
        }
    }

    /** N of the manifest's {@code "generator": "... (harness version N)"}; 0 when it names none. */
    static int harnessVersion(byte[] manifest) throws IOException {
        String generator = new ObjectMapper().readTree(manifest).path("generator").asText("");
        Matcher m = HARNESS_VERSION.matcher(generator);
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }

    /** The tokenizer goldens (clip_tokens.json): ../shared's when present, else the copy. */
    public static Path tokenizerGolden() {
        Path shared = SHARED.resolve("golden").resolve("tokenizer").resolve("clip_tokens.json");
        return Files.isRegularFile(shared) ? shared : TOKENIZER_GOLDEN_COPY;
    }

    /** CLIP's bpe_simple_vocab_16e6.txt.gz as a file: ../shared/clip's when present, else the jar's resource. */
    public static Path clipVocabulary() {
        Path shared = SHARED.resolve("clip").resolve("bpe_simple_vocab_16e6.txt.gz");
        return Files.isRegularFile(shared) ? shared : VOCABULARY_COPY;
    }

    /** {@code ../shared/<relative>}, or the calling test is skipped with a message naming the missing path. */
    public static Path sharedOrSkip(String relative, String what) {
        Path p = SHARED.resolve(relative);
        assumeTrue(Files.exists(p), () -> what + " not found at " + p.toAbsolutePath().normalize()
                + " (not carried in the repository; the folder ../shared beside the checkout provides it): skipped");
        return p;
    }
}
