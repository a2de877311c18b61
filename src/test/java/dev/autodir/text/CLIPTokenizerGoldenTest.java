package dev.autodir.text;

import dev.autodir.TestData;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every string of {@code golden/tokenizer/clip_tokens.json} ({@link TestData#tokenizerGolden}) must give the golden ids and
 * mask, from each way of loading the vocabulary: the .gz file (../shared/clip's, or the repository's), the copy carried in the jar, and a
 * Hugging Face vocab.json + merges.txt pair written here from the .gz file.
 */
class CLIPTokenizerGoldenTest {
    static final Path SHARED_VOCABULARY = TestData.clipVocabulary();
    static final Path GOLDEN = TestData.tokenizerGolden();

    @TempDir static Path huggingFaceDir;

    static JsonNode golden;
    static CLIPTokenizer fromGz;
    static CLIPTokenizer fromResource;
    static CLIPTokenizer fromHuggingFace;

    @BeforeAll
    static void load() throws IOException {
        assertTrue(Files.isRegularFile(GOLDEN), "golden file missing: " + GOLDEN.toAbsolutePath());
        assertTrue(Files.isRegularFile(SHARED_VOCABULARY), "vocabulary missing: " + SHARED_VOCABULARY.toAbsolutePath());
        golden = new ObjectMapper().readTree(GOLDEN.toFile());
        fromGz = CLIPTokenizer.fromClipBpeGz(SHARED_VOCABULARY);
        fromResource = CLIPTokenizer.loadDefault();
        writeHuggingFacePair(SHARED_VOCABULARY, huggingFaceDir);
        fromHuggingFace = CLIPTokenizer.load(huggingFaceDir);
    }

    static Stream<Arguments> cases() throws IOException {
        JsonNode root = new ObjectMapper().readTree(GOLDEN.toFile());
        List<Arguments> out = new ArrayList<>();
        for (JsonNode e : root.get("entries")) {
            for (String source : List.of("gz", "resource", "huggingface")) out.add(Arguments.of(e.get("name").asText(), source, e));
        }
        return out.stream();
    }

    @Test
    void goldenFileHasAllCasesAndDescribesThisVocabulary() {
        assertEquals(25, golden.get("entries").size(), "entries in " + GOLDEN);
        JsonNode special = golden.get("special");
        for (CLIPTokenizer t : List.of(fromGz, fromResource, fromHuggingFace)) {
            assertEquals(special.get("bos").asInt(), t.bosId(), t + " BOS");
            assertEquals(special.get("eos").asInt(), t.eosId(), t + " EOS");
            assertEquals(special.get("pad").asInt(), t.padId(), t + " pad");
            assertEquals(special.get("vocab_size").asInt(), t.vocabularySize(), t + " vocabulary size");
        }
    }

    @ParameterizedTest(name = "{0} from {1}")
    @MethodSource("cases")
    void matchesGolden(String name, String source, JsonNode entry) {
        CLIPTokenizer tokenizer = switch (source) {
            case "gz" -> fromGz;
            case "resource" -> fromResource;
            default -> fromHuggingFace;
        };
        String text = entry.get("text").asText();
        assertEquals(entry.get("normalized").asText(), CLIPTokenizer.normalize(text), name + ": normalised text");
        assertEquals(entry.get("n_bpe_tokens_before_truncation").asInt(), tokenizer.contentIds(text).length,
                name + ": BPE tokens before truncation");

        TokenizedText tokens = tokenizer.encode(text);
        assertArrayEquals(toInts(entry.get("input_ids")), tokens.ids(), name + ": input_ids");
        assertArrayEquals(toInts(entry.get("attention_mask")), tokens.attentionMask(), name + ": attention_mask");
    }

    @Test
    void batchEqualsOneByOne() {
        List<String> texts = new ArrayList<>();
        for (JsonNode e : golden.get("entries")) texts.add(e.get("text").asText());
        List<TokenizedText> batch = fromGz.encodeBatch(texts);
        assertEquals(texts.size(), batch.size());
        for (int i = 0; i < texts.size(); i++) {
            JsonNode e = golden.get("entries").get(i);
            assertArrayEquals(toInts(e.get("input_ids")), batch.get(i).ids(), e.get("name").asText());
        }
    }

    static int[] toInts(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }

    /**
     * Writes vocab.json and merges.txt as transformers' {@code CLIPTokenizer.save_vocabulary} does
     * ({@code json.dumps(encoder, indent=2, sort_keys=True, ensure_ascii=False)}; merges after a
     * {@code #version: 0.2} line), building the encoder from OpenAI's merges the way OpenAI's
     * {@code SimpleTokenizer} does. Written independently of the code under test.
     */
    static void writeHuggingFacePair(Path gz, Path dir) throws IOException {
        int mergeCount = 49152 - 256 - 2;
        List<String> merges = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                new GZIPInputStream(Files.newInputStream(gz)), StandardCharsets.UTF_8))) {
            r.readLine();
            for (int i = 0; i < mergeCount; i++) merges.add(r.readLine());
        }
        // bytes_to_unicode: printable bytes keep their code point, the rest get 256, 257, ... in byte order
        List<Integer> printable = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) printable.add(b);
        for (int b = 0xA1; b <= 0xAC; b++) printable.add(b);
        for (int b = 0xAE; b <= 0xFF; b++) printable.add(b);
        List<String> vocab = new ArrayList<>();
        for (int b : printable) vocab.add(Character.toString(b));
        int n = 0;
        for (int b = 0; b < 256; b++) if (!printable.contains(b)) vocab.add(Character.toString(256 + n++));
        for (String v : new ArrayList<>(vocab)) vocab.add(v + "</w>");
        for (String m : merges) vocab.add(m.replace(" ", ""));
        vocab.add("<|startoftext|>");
        vocab.add("<|endoftext|>");
        assertEquals(49408, vocab.size());

        Map<String, Integer> encoder = new TreeMap<>();
        for (int i = 0; i < vocab.size(); i++) encoder.put(vocab.get(i), i);
        JsonStringEncoder quote = JsonStringEncoder.getInstance();
        try (Writer w = Files.newBufferedWriter(dir.resolve("vocab.json"), StandardCharsets.UTF_8)) {
            w.write("{\n");
            int k = 0;
            for (Map.Entry<String, Integer> e : encoder.entrySet()) {
                w.write("  \"" + new String(quote.quoteAsString(e.getKey())) + "\": " + e.getValue());
                w.write(++k < encoder.size() ? ",\n" : "\n");
            }
            w.write("}\n");
        }
        try (Writer w = Files.newBufferedWriter(dir.resolve("merges.txt"), StandardCharsets.UTF_8)) {
            w.write("#version: 0.2\n");
            for (String m : merges) w.write(m + "\n");
        }
        assertEquals(Arrays.asList("merges.txt", "vocab.json"),
                Arrays.stream(dir.toFile().list()).sorted().toList());
    }
}
