package dev.autodir.text;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * CLIP's byte-level BPE vocabulary: token → id and merge pair → rank. Immutable once built.
 *
 * <p>Two sources give the same vocabulary:
 * <ul>
 *   <li>OpenAI's {@code bpe_simple_vocab_16e6.txt.gz}: a header line, then merges "a b" by rank. Only the
 *       first {@value #MERGE_COUNT} merges are used (the file has more); the ids are implied: the 256
 *       byte characters, the same 256 with {@code </w>}, one token per merge (the concatenated pair) and
 *       finally {@code <|startoftext|>} (49406) and {@code <|endoftext|>} (49407).</li>
 *   <li>Hugging Face {@code vocab.json} (token → id) and {@code merges.txt} (a {@code #version} header
 *       line, then merges). As in transformers' {@code CLIPTokenizer}, the first line is skipped and at
 *       most {@value #MERGE_COUNT} merges are read.</li>
 * </ul>
 * Both are checked on load: fewer merges than CLIP needs, a line that is not two symbols, a symbol
 * missing from the vocabulary, or a missing special token is an error naming the file and line.
 */
final class BPEVocabulary {
    /** The merge count of CLIP's vocabulary: 49152 − 256 − 2 (as sliced by OpenAI and Hugging Face). */
    static final int MERGE_COUNT = 49152 - 256 - 2;
    static final String END_OF_WORD = "</w>";
    static final String START_OF_TEXT = "<|startoftext|>";
    static final String END_OF_TEXT = "<|endoftext|>";

    private final String source;
    private final Map<String, Integer> encoder;
    /** Key: first + ' ' + second (symbols never contain a space). */
    private final Map<String, Integer> mergeRanks;
    private final int bosId;
    private final int eosId;
    private final int size;

    private BPEVocabulary(String source, Map<String, Integer> encoder, Map<String, Integer> mergeRanks) {
        this.source = source;
        this.encoder = encoder;
        this.mergeRanks = mergeRanks;
        Integer bos = encoder.get(START_OF_TEXT);
        Integer eos = encoder.get(END_OF_TEXT);
        if (bos == null || eos == null) {
            throw new VocabularyException(source, "the vocabulary has no " + (bos == null ? START_OF_TEXT : END_OF_TEXT) + " token");
        }
        this.bosId = bos;
        this.eosId = eos;
        int max = -1;
        for (int id : encoder.values()) max = Math.max(max, id);
        this.size = max + 1;
    }

    String source() { return source; }
    int bosId() { return bosId; }
    int eosId() { return eosId; }
    /** Largest id + 1 (49408 for CLIP). */
    int size() { return size; }

    /** The id of a token, or -1 if the vocabulary does not have it. */
    int id(String token) {
        Integer id = encoder.get(token);
        return id == null ? -1 : id;
    }

    /** The rank of merging {@code first} and {@code second} (lower merges first), or -1 if no such merge. */
    int mergeRank(String first, String second) {
        Integer r = mergeRanks.get(first + ' ' + second);
        return r == null ? -1 : r;
    }

    // ---------------------------------------------------------------- OpenAI .txt.gz

    static BPEVocabulary fromClipBpeGz(Path file) {
        String source = file.toString();
        try (InputStream in = Files.newInputStream(file)) {
            return fromClipBpeGz(in, source);
        } catch (NoSuchFileException e) {
            throw new VocabularyException(source, "file not found");
        } catch (IOException e) {
            throw new VocabularyException(source, "cannot read: " + e, e);
        }
    }

    static BPEVocabulary fromClipBpeGz(InputStream compressed, String source) {
        String[] merges = new String[MERGE_COUNT];
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(
                new GZIPInputStream(compressed, 1 << 16), strictUtf8()), 1 << 16)) {
            if (reader.readLine() == null) throw new VocabularyException(source, "empty after decompression");
            for (int i = 0; i < MERGE_COUNT; i++) {
                String line = reader.readLine();
                if (line == null) {
                    throw new VocabularyException(source, "has " + i + " merge lines after the header; CLIP's vocabulary needs "
                            + MERGE_COUNT + " (truncated or not a CLIP vocabulary?)");
                }
                merges[i] = line;
            }
        } catch (ZipException e) {
            throw new VocabularyException(source, "not a valid gzip file (" + e.getMessage() + ")", e);
        } catch (EOFException e) {
            throw new VocabularyException(source, "gzip data ends early (truncated file?)", e);
        } catch (CharacterCodingException e) {
            throw new VocabularyException(source, "decompressed data is not UTF-8 text", e);
        } catch (IOException e) {
            throw new VocabularyException(source, "cannot read: " + e, e);
        }

        Map<String, Integer> encoder = new HashMap<>(2 * (512 + MERGE_COUNT + 2));
        int next = 0;
        for (int i = 0; i < 256; i++) encoder.put(String.valueOf(ByteLevelEncoding.vocabularySymbol(i)), next++);
        for (int i = 0; i < 256; i++) encoder.put(ByteLevelEncoding.vocabularySymbol(i) + END_OF_WORD, next++);
        Map<String, Integer> ranks = new HashMap<>(2 * MERGE_COUNT);
        for (int rank = 0; rank < MERGE_COUNT; rank++) {
            int lineNumber = rank + 2; // 1-based, after the header
            String[] pair = splitMerge(merges[rank], source, lineNumber);
            for (String part : pair) {
                if (!encoder.containsKey(part)) {
                    throw new VocabularyException(source, "line " + lineNumber + ": merge '" + merges[rank] + "' uses '" + part
                            + "', which no earlier line produces (corrupt vocabulary)");
                }
            }
            String merged = pair[0] + pair[1];
            if (encoder.putIfAbsent(merged, next++) != null) {
                throw new VocabularyException(source, "line " + lineNumber + ": merge '" + merges[rank] + "' produces '" + merged
                        + "' a second time (corrupt vocabulary)");
            }
            ranks.putIfAbsent(pair[0] + ' ' + pair[1], rank);
        }
        encoder.put(START_OF_TEXT, next++);
        encoder.put(END_OF_TEXT, next);
        return new BPEVocabulary(source, encoder, ranks);
    }

    // ---------------------------------------------------------------- Hugging Face vocab.json + merges.txt

    static BPEVocabulary fromHuggingFace(Path vocabJson, Path mergesTxt) {
        Map<String, Integer> encoder = readVocabJson(vocabJson);
        String mergesSource = mergesTxt.toString();
        String text;
        try {
            text = strictUtf8().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(mergesTxt))).toString();
        } catch (NoSuchFileException e) {
            throw new VocabularyException(mergesSource, "file not found (merges.txt must sit beside vocab.json)");
        } catch (CharacterCodingException e) {
            throw new VocabularyException(mergesSource, "not UTF-8 text", e);
        } catch (IOException e) {
            throw new VocabularyException(mergesSource, "cannot read: " + e, e);
        }
        // transformers: merges_handle.read().strip().split("\n")[1 : 49152 - 256 - 2 + 1]
        String[] lines = text.strip().split("\n", -1);
        int available = Math.max(0, lines.length - 1);
        if (available < MERGE_COUNT) {
            throw new VocabularyException(mergesSource, "has " + available + " merge lines after the header; CLIP's vocabulary needs "
                    + MERGE_COUNT + " (truncated or not a CLIP merges.txt?)");
        }
        Map<String, Integer> ranks = new HashMap<>(2 * MERGE_COUNT);
        for (int rank = 0; rank < MERGE_COUNT; rank++) {
            int lineNumber = rank + 2;
            String line = lines[rank + 1];
            String[] pair = splitMerge(line, mergesSource, lineNumber);
            for (String token : new String[] {pair[0], pair[1], pair[0] + pair[1]}) {
                if (!encoder.containsKey(token)) {
                    throw new VocabularyException(mergesSource, "line " + lineNumber + ": merge '" + line + "' needs token '" + token
                            + "', which " + vocabJson + " does not contain (files from different tokenizers?)");
                }
            }
            ranks.putIfAbsent(pair[0] + ' ' + pair[1], rank);
        }
        return new BPEVocabulary(vocabJson + " + " + mergesTxt, encoder, ranks);
    }

    private static Map<String, Integer> readVocabJson(Path vocabJson) {
        String source = vocabJson.toString();
        Map<String, Integer> encoder = new HashMap<>(2 * 49408);
        try (InputStream in = Files.newInputStream(vocabJson);
             JsonParser p = new JsonFactory().createParser(in)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new VocabularyException(source, "expected a JSON object mapping token to id");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String token = p.currentName();
                if (p.nextToken() != JsonToken.VALUE_NUMBER_INT) {
                    throw new VocabularyException(source, "the id of token '" + token + "' is " + p.currentToken()
                            + ", expected an integer (line " + p.currentLocation().getLineNr() + ")");
                }
                long id = p.getLongValue();
                if (id < 0 || id > Integer.MAX_VALUE - 8) {
                    throw new VocabularyException(source, "token '" + token + "' has id " + id + ", outside [0, 2^31)");
                }
                encoder.put(token, (int) id);
            }
            if (p.currentToken() != JsonToken.END_OBJECT) {
                throw new VocabularyException(source, "malformed JSON object near line " + p.currentLocation().getLineNr());
            }
        } catch (NoSuchFileException e) {
            throw new VocabularyException(source, "file not found");
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")";
            throw new VocabularyException(source, "not valid JSON: " + e.getOriginalMessage() + where, e);
        } catch (IOException e) {
            throw new VocabularyException(source, "cannot read: " + e, e);
        }
        if (encoder.isEmpty()) throw new VocabularyException(source, "the vocabulary is empty");
        return encoder;
    }

    // ---------------------------------------------------------------- helpers

    /** Python's {@code merge.split()}: the line must be exactly two symbols separated by white space. */
    private static String[] splitMerge(String line, String source, int lineNumber) {
        String[] parts = line.strip().split("\\s+");
        if (parts.length != 2 || parts[0].isEmpty()) {
            throw new VocabularyException(source, "line " + lineNumber + ": expected two symbols separated by a space, got '"
                    + (line.length() > 80 ? line.substring(0, 80) + "..." : line) + "'");
        }
        return parts;
    }

    private static CharsetDecoder strictUtf8() {
        return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
    }
}
