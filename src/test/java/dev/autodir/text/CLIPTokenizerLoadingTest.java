package dev.autodir.text;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loading from each kind of path, clear errors for bad vocabulary files, and concurrent use. */
class CLIPTokenizerLoadingTest {
    static final Path SHARED = CLIPTokenizerGoldenTest.SHARED_VOCABULARY;

    @TempDir Path dir;

    @Test
    void loadAcceptsTheGzFileItsDirectoryAndEitherFileOfAHuggingFacePair() throws IOException {
        int[] expected = CLIPTokenizer.loadDefault().encode("A photo needs haze artifact reduction").ids();
        Path gzDir = Files.createDirectory(dir.resolve("gz"));
        Files.copy(SHARED, gzDir.resolve("bpe_simple_vocab_16e6.txt.gz"));
        Path renamed = dir.resolve("renamed.bin");
        Files.copy(SHARED, renamed);
        Path hf = Files.createDirectory(dir.resolve("hf"));
        CLIPTokenizerGoldenTest.writeHuggingFacePair(SHARED, hf);

        for (Path p : List.of(SHARED, gzDir, renamed, hf, hf.resolve("vocab.json"), hf.resolve("merges.txt"))) {
            assertArrayEquals(expected, CLIPTokenizer.load(p).encode("A photo needs haze artifact reduction").ids(), p.toString());
        }
    }

    @Test
    void missingFilesAreNamed() throws IOException {
        Path missing = dir.resolve("nope.txt.gz");
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.fromClipBpeGz(missing)), missing, "not found");
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.load(missing)), missing, "not found");

        Path empty = Files.createDirectory(dir.resolve("empty"));
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.load(empty)), empty, "vocab.json");

        Path hf = Files.createDirectory(dir.resolve("hf"));
        CLIPTokenizerGoldenTest.writeHuggingFacePair(SHARED, hf);
        Files.delete(hf.resolve("merges.txt"));
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.load(hf)), hf.resolve("merges.txt"), "not found");
    }

    @Test
    void corruptGzFilesAreNamedWithTheProblem() throws IOException {
        Path notGzip = dir.resolve("plain.txt.gz");
        Files.writeString(notGzip, "#version: 0.2\ni n\n");
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.fromClipBpeGz(notGzip)), notGzip, "gzip");

        byte[] real = Files.readAllBytes(SHARED);
        Path truncated = dir.resolve("truncated.txt.gz");
        Files.write(truncated, Arrays.copyOf(real, real.length / 20));
        VocabularyException e = assertThrows(VocabularyException.class, () -> CLIPTokenizer.fromClipBpeGz(truncated));
        assertTrue(e.getMessage().startsWith(truncated.toString()), e.getMessage());

        Path fewMerges = gzip(dir.resolve("few.txt.gz"), "#version: 0.2\ni n\nt h\n");
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.fromClipBpeGz(fewMerges)), fewMerges, "has 2 merge lines");

        StringBuilder bad = new StringBuilder("#version: 0.2\nt h\n");
        for (int i = 1; i < BPEVocabulary.MERGE_COUNT; i++) bad.append(i == 1 ? "a b c\n" : "i n\n");
        Path badLine = gzip(dir.resolve("bad.txt.gz"), bad.toString());
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.fromClipBpeGz(badLine)), badLine, "line 3");

        StringBuilder twice = new StringBuilder("#version: 0.2\n");
        for (int i = 0; i < BPEVocabulary.MERGE_COUNT; i++) twice.append("i n\n");
        Path duplicate = gzip(dir.resolve("twice.txt.gz"), twice.toString());
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.fromClipBpeGz(duplicate)), duplicate, "line 3");

        StringBuilder unknown = new StringBuilder("#version: 0.2\n");
        for (int i = 0; i < BPEVocabulary.MERGE_COUNT; i++) unknown.append(i == 0 ? "xyz q\n" : "i n\n");
        Path unknownSymbol = gzip(dir.resolve("unknown.txt.gz"), unknown.toString());
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.fromClipBpeGz(unknownSymbol)), unknownSymbol, "'xyz'");

        Path random = dir.resolve("random.bin");
        Files.write(random, new byte[] {1, 2, 3, 4, 5});
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.load(random)), random, "not a tokenizer vocabulary");
    }

    @Test
    void corruptHuggingFaceFilesAreNamedWithTheProblem() throws IOException {
        Path hf = Files.createDirectory(dir.resolve("hf"));
        CLIPTokenizerGoldenTest.writeHuggingFacePair(SHARED, hf);
        Path vocab = hf.resolve("vocab.json");
        Path merges = hf.resolve("merges.txt");
        String goodVocab = Files.readString(vocab);
        List<String> goodMerges = Files.readAllLines(merges);

        Files.writeString(vocab, goodVocab.substring(0, goodVocab.length() / 2));
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.load(hf)), vocab, "JSON");

        Files.writeString(vocab, goodVocab.replace("\"<|endoftext|>\": 49407", "\"<|endoftext|>\": \"x\""));
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.load(hf)), vocab, "<|endoftext|>");

        Files.writeString(vocab, goodVocab.replace("\"<|startoftext|>\": 49406,", ""));
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.load(hf)), vocab, "<|startoftext|>");

        Files.writeString(vocab, goodVocab);
        List<String> broken = new ArrayList<>(goodMerges);
        broken.set(10, "zz\u00F0 qq");
        Files.write(merges, broken, StandardCharsets.UTF_8);
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.load(hf)), merges, "line 11");

        Files.write(merges, goodMerges.subList(0, 1000), StandardCharsets.UTF_8);
        assertMessage(assertThrows(VocabularyException.class, () -> CLIPTokenizer.load(hf)), merges, "has 999 merge lines");
    }

    @Test
    void truncationKeepsBosSeventyFiveTokensAndEos() {
        CLIPTokenizer t = CLIPTokenizer.loadDefault();
        String digits = "7".repeat(200); // one token per digit
        TokenizedText tt = t.encode(digits);
        int[] ids = tt.ids();
        assertEquals(77, ids.length);
        assertEquals(t.bosId(), ids[0]);
        assertEquals(t.eosId(), ids[76]);
        int seven = t.contentIds("7")[0];
        for (int i = 1; i <= 75; i++) assertEquals(seven, ids[i], "position " + i);
        assertEquals(77, tt.attendedLength());
        assertEquals(200, t.contentIds(digits).length);
    }

    @Test
    void literalSpecialTokensAreRecognisedAndAttended() {
        CLIPTokenizer t = CLIPTokenizer.loadDefault();
        int[] ids = t.encode("rain<|endoftext|>haze").ids();
        int[] mask = t.encode("rain<|endoftext|>haze").attentionMask();
        int rain = t.contentIds("rain")[0];
        int haze = t.contentIds("haze")[0];
        assertArrayEquals(new int[] {t.bosId(), rain, t.eosId(), haze, t.eosId(), t.eosId()}, Arrays.copyOf(ids, 6));
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 0}, Arrays.copyOf(mask, 6));

        // pieces between special tokens are normalised separately: the '<' of the token does not
        // switch off HTML unescaping for the text around it; upper case is special only after lower-casing
        int amp = t.contentIds("&")[0];
        assertArrayEquals(new int[] {amp, t.eosId(), amp}, t.contentIds("&amp;<|endoftext|>&amp;"));
        assertArrayEquals(new int[] {t.bosId(), rain}, t.contentIds("<|STARTOFTEXT|>rain"));
    }

    @Test
    void concurrentEncodingGivesTheSameResultAsSequential() throws Exception {
        CLIPTokenizer shared = CLIPTokenizer.loadDefault();
        CLIPTokenizer reference = CLIPTokenizer.loadDefault();
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 400; i++) texts.add("prompt " + i + " needs w" + Integer.toString(i * 7919, 36) + " reduction, number " + (i * 31));
        List<TokenizedText> expected = reference.encodeBatch(texts);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<List<TokenizedText>>> futures = new ArrayList<>();
            for (int k = 0; k < 4; k++) futures.add(pool.submit(() -> shared.encodeBatch(texts)));
            for (Future<List<TokenizedText>> f : futures) assertEquals(expected, f.get());
        } finally {
            pool.shutdownNow();
        }
    }

    private static Path gzip(Path file, String text) throws IOException {
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
        return file;
    }

    private static void assertMessage(Exception e, Path file, String fragment) {
        assertTrue(e.getMessage().contains(file.toString()), "message should name " + file + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "message should say '" + fragment + "': " + e.getMessage());
    }
}
