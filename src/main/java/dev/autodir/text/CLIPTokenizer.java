package dev.autodir.text;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CLIP's byte-level BPE tokenizer, computing what AutoDIR gets from transformers'
 * {@code CLIPTokenizer.from_pretrained("openai/clip-vit-large-patch14")(text, truncation=True,
 * max_length=77, padding="max_length")} (the slow tokenizer, with ftfy installed):
 * <ol>
 *   <li>normalise: {@code whitespace_clean(ftfy.fix_text(text)).lower()} — see {@link TextFixer} for
 *       what of ftfy is covered (not its mojibake repair); whitespace is what Python's
 *       {@code str.isspace} accepts, runs of it become one space, the ends are stripped;</li>
 *   <li>split with CLIP's pattern
 *       {@code <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+}
 *       (case-insensitive, as in the original), so digits become one token each;</li>
 *   <li>encode each piece's UTF-8 bytes as byte-level characters, mark the last one with {@code </w>}
 *       and apply BPE merges, lowest rank first, until no ranked pair is left;</li>
 *   <li>{@code [BOS] + the first 75 tokens + [EOS]}, padded with EOS (the pad token) to 77; the attention
 *       mask is 1 for those tokens and 0 for the padding.</li>
 * </ol>
 * A literal {@code <|startoftext|>} or {@code <|endoftext|>} in the text becomes the special token and,
 * as in transformers, is attended like any other token; only the padding has mask 0. As in
 * transformers, the text is split at such literal tokens before normalisation and each piece is
 * normalised on its own.
 *
 * <p>Instances are immutable apart from a bounded, concurrent cache of BPE results, so one tokenizer
 * can be shared between threads.
 */
public final class CLIPTokenizer {
    /** Padded sequence length of CLIP's text tower. */
    public static final int CONTEXT_LENGTH = 77;
    /** The default vocabulary, carried in the jar next to this class with its MIT licence. */
    public static final String DEFAULT_VOCABULARY_RESOURCE = "bpe_simple_vocab_16e6.txt.gz";
    static final String CLIP_BPE_FILE_NAME = "bpe_simple_vocab_16e6.txt.gz";
    static final String HF_VOCAB_FILE_NAME = "vocab.json";
    static final String HF_MERGES_FILE_NAME = "merges.txt";

    private static final Pattern PRE_TOKENIZER = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);
    /** Cached words beyond this are not remembered (keeps memory bounded for long-running servers). */
    private static final int CACHE_LIMIT = 100_000;

    private final BPEVocabulary vocabulary;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    private CLIPTokenizer(BPEVocabulary vocabulary) {
        this.vocabulary = vocabulary;
    }

    // ---------------------------------------------------------------- loading

    /** The vocabulary carried in the jar ({@value #DEFAULT_VOCABULARY_RESOURCE}). */
    public static CLIPTokenizer loadDefault() {
        String source = "class-path resource dev/autodir/text/" + DEFAULT_VOCABULARY_RESOURCE;
        try (InputStream in = CLIPTokenizer.class.getResourceAsStream(DEFAULT_VOCABULARY_RESOURCE)) {
            if (in == null) throw new VocabularyException(source, "not found in the jar; pass a vocabulary file instead");
            return new CLIPTokenizer(BPEVocabulary.fromClipBpeGz(in, source));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + source, e);
        }
    }

    /**
     * Loads whatever {@code path} points at (the CLI's {@code --tokenizer}): a directory holding
     * {@code vocab.json} + {@code merges.txt} or {@code bpe_simple_vocab_16e6.txt.gz}; a gzip file
     * (OpenAI's merges); or one file of a Hugging Face pair, {@code vocab.json} or {@code merges.txt},
     * whose partner must sit beside it.
     */
    public static CLIPTokenizer load(Path path) {
        if (Files.isDirectory(path)) {
            Path vocab = path.resolve(HF_VOCAB_FILE_NAME);
            Path merges = path.resolve(HF_MERGES_FILE_NAME);
            if (Files.exists(vocab) || Files.exists(merges)) return fromHuggingFace(vocab, merges);
            Path gz = path.resolve(CLIP_BPE_FILE_NAME);
            if (Files.exists(gz)) return fromClipBpeGz(gz);
            throw new VocabularyException(path.toString(), "directory holds neither " + HF_VOCAB_FILE_NAME + " + "
                    + HF_MERGES_FILE_NAME + " nor " + CLIP_BPE_FILE_NAME);
        }
        if (!Files.exists(path)) throw new VocabularyException(path.toString(), "file not found");
        byte[] head = readHead(path, 16);
        if (head.length >= 2 && (head[0] & 0xFF) == 0x1F && (head[1] & 0xFF) == 0x8B) return fromClipBpeGz(path);
        String start = new String(head, java.nio.charset.StandardCharsets.ISO_8859_1).stripLeading();
        Path dir = path.toAbsolutePath().getParent();
        if (start.startsWith("{")) return fromHuggingFace(path, dir.resolve(HF_MERGES_FILE_NAME));
        if (start.startsWith("#version")) return fromHuggingFace(dir.resolve(HF_VOCAB_FILE_NAME), path);
        throw new VocabularyException(path.toString(), "not a tokenizer vocabulary: expected a gzip file ("
                + CLIP_BPE_FILE_NAME + "), a JSON object (" + HF_VOCAB_FILE_NAME + ") or a '#version' header ("
                + HF_MERGES_FILE_NAME + ")");
    }

    /** OpenAI's {@code bpe_simple_vocab_16e6.txt.gz}. */
    public static CLIPTokenizer fromClipBpeGz(Path file) {
        return new CLIPTokenizer(BPEVocabulary.fromClipBpeGz(file));
    }

    /** A Hugging Face pair: {@code vocab.json} (token → id) and {@code merges.txt}. */
    public static CLIPTokenizer fromHuggingFace(Path vocabJson, Path mergesTxt) {
        return new CLIPTokenizer(BPEVocabulary.fromHuggingFace(vocabJson, mergesTxt));
    }

    private static byte[] readHead(Path file, int n) {
        try (InputStream in = Files.newInputStream(file)) {
            return in.readNBytes(n);
        } catch (IOException e) {
            throw new VocabularyException(file.toString(), "cannot read: " + e, e);
        }
    }

    // ---------------------------------------------------------------- encoding

    /** Token ids (77) and attention mask (77) of one prompt. */
    public TokenizedText encode(String text) {
        int[] content = contentIds(text);
        int n = Math.min(content.length, CONTEXT_LENGTH - 2);
        int[] ids = new int[CONTEXT_LENGTH];
        int[] mask = new int[CONTEXT_LENGTH];
        int eos = vocabulary.eosId();
        ids[0] = vocabulary.bosId();
        System.arraycopy(content, 0, ids, 1, n);
        ids[n + 1] = eos;
        Arrays.fill(ids, n + 2, CONTEXT_LENGTH, eos); // the pad token of CLIP is <|endoftext|>
        Arrays.fill(mask, 0, n + 2, 1);
        return new TokenizedText(ids, mask);
    }

    /** {@link #encode} of each text, in order. */
    public List<TokenizedText> encodeBatch(List<String> texts) {
        List<TokenizedText> out = new ArrayList<>(texts.size());
        for (String t : texts) out.add(encode(t));
        return out;
    }

    /** The BPE token ids of the text, without BOS/EOS, padding or truncation. */
    public int[] contentIds(String text) {
        IntList out = new IntList();
        // transformers first splits the raw text at literal special tokens (case-sensitive) and
        // normalises each piece on its own, so ftfy's "is this HTML?" test is made per piece
        int start = 0;
        while (start <= text.length()) {
            int bos = text.indexOf(BPEVocabulary.START_OF_TEXT, start);
            int eos = text.indexOf(BPEVocabulary.END_OF_TEXT, start);
            int next = bos < 0 ? eos : eos < 0 ? bos : Math.min(bos, eos);
            int end = next < 0 ? text.length() : next;
            if (end > start) tokenizePiece(text.substring(start, end), out);
            if (next < 0) break;
            boolean isBos = next == bos;
            out.add(isBos ? vocabulary.bosId() : vocabulary.eosId());
            start = next + (isBos ? BPEVocabulary.START_OF_TEXT : BPEVocabulary.END_OF_TEXT).length();
        }
        return out.toArray();
    }

    private void tokenizePiece(String rawText, IntList out) {
        Matcher m = PRE_TOKENIZER.matcher(normalize(rawText));
        while (m.find()) {
            String piece = m.group();
            // the pattern also finds special tokens that only appear after lower-casing ("<|ENDOFTEXT|>")
            if (piece.equals(BPEVocabulary.START_OF_TEXT)) out.add(vocabulary.bosId());
            else if (piece.equals(BPEVocabulary.END_OF_TEXT)) out.add(vocabulary.eosId());
            else out.addAll(wordIds(ByteLevelEncoding.encode(piece)));
        }
    }

    /** {@code whitespace_clean(ftfy.fix_text(text)).lower()}, as the tokenizer sees the text. */
    public static String normalize(String text) {
        return whitespaceClean(TextFixer.fixText(text)).toLowerCase(Locale.ROOT);
    }

    /** Runs of Python-{@code isspace} characters → one space, then stripped. */
    static String whitespaceClean(String text) {
        StringBuilder out = new StringBuilder(text.length());
        boolean pendingSpace = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (isPythonSpace(c)) {
                pendingSpace = out.length() > 0;
            } else {
                if (pendingSpace) out.append(' ');
                pendingSpace = false;
                out.append(c);
            }
        }
        return out.toString();
    }

    /** Python's {@code str.isspace()} (all such characters are in the BMP). */
    static boolean isPythonSpace(char c) {
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
                || c == 0x3000;
    }

    /** BPE of one pre-tokenised piece (already byte-level encoded); the result is shared, do not modify. */
    private int[] wordIds(String word) {
        int[] cached = cache.get(word);
        if (cached != null) return cached;
        List<String> symbols = new ArrayList<>(word.length());
        for (int i = 0; i < word.length() - 1; i++) symbols.add(String.valueOf(word.charAt(i)));
        symbols.add(word.charAt(word.length() - 1) + BPEVocabulary.END_OF_WORD);

        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String first = null;
            String second = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                int rank = vocabulary.mergeRank(symbols.get(i), symbols.get(i + 1));
                if (rank >= 0 && rank < bestRank) {
                    bestRank = rank;
                    first = symbols.get(i);
                    second = symbols.get(i + 1);
                }
            }
            if (first == null) break;
            // merge every occurrence of (first, second), left to right, without overlap
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(first) && symbols.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i++;
                } else {
                    merged.add(symbols.get(i));
                }
            }
            symbols = merged;
        }

        int[] ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) {
            int id = vocabulary.id(symbols.get(i));
            ids[i] = id >= 0 ? id : vocabulary.eosId(); // unknown token: <|endoftext|>, as transformers does
        }
        if (cache.size() < CACHE_LIMIT) cache.putIfAbsent(word, ids);
        return ids;
    }

    // ---------------------------------------------------------------- properties

    public int bosId() { return vocabulary.bosId(); }
    public int eosId() { return vocabulary.eosId(); }
    /** The padding id: CLIP pads with {@code <|endoftext|>}. */
    public int padId() { return vocabulary.eosId(); }
    /** Largest id + 1 (49408 for CLIP). */
    public int vocabularySize() { return vocabulary.size(); }
    public int contextLength() { return CONTEXT_LENGTH; }
    /** Where the vocabulary came from (a file, a pair of files or the class-path resource). */
    public String source() { return vocabulary.source(); }

    @Override public String toString() { return "CLIPTokenizer[" + vocabulary.source() + "]"; }

    private static final class IntList {
        private int[] data = new int[32];
        private int size;

        void add(int v) {
            if (size == data.length) data = Arrays.copyOf(data, size * 2);
            data[size++] = v;
        }

        void addAll(int[] vs) {
            if (size + vs.length > data.length) data = Arrays.copyOf(data, Math.max(size + vs.length, size * 2));
            System.arraycopy(vs, 0, data, size, vs.length);
            size += vs.length;
        }

        int[] toArray() { return Arrays.copyOf(data, size); }
    }
}
