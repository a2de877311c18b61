package dev.autodir.text;

import java.nio.charset.StandardCharsets;

/**
 * GPT-2/CLIP byte-level encoding: each of the 256 byte values is shown as one printable character, so a
 * BPE vocabulary over these characters covers every UTF-8 string without an unknown token.
 *
 * <p>Bytes that are already printable Latin-1 characters ({@code '!'..'~'}, {@code '¡'..'¬'},
 * {@code '®'..'ÿ'}) stand for themselves; the other 68 bytes are mapped, in increasing byte order, to
 * U+0100, U+0101, ... The vocabulary's first 256 entries list the characters in exactly this order:
 * the printable bytes first (ascending), then the remapped ones.
 */
final class ByteLevelEncoding {
    /** byte value → its character. */
    private static final char[] BYTE_TO_CHAR = new char[256];
    /** The 256 characters in vocabulary order (printable bytes first, then the remapped ones). */
    private static final char[] VOCABULARY_ORDER = new char[256];

    static {
        int k = 0;
        for (int b = 0; b < 256; b++) {
            if (isPrintable(b)) {
                BYTE_TO_CHAR[b] = (char) b;
                VOCABULARY_ORDER[k++] = (char) b;
            }
        }
        int next = 256;
        for (int b = 0; b < 256; b++) {
            if (!isPrintable(b)) {
                BYTE_TO_CHAR[b] = (char) next++;
                VOCABULARY_ORDER[k++] = BYTE_TO_CHAR[b];
            }
        }
    }

    private ByteLevelEncoding() { }

    private static boolean isPrintable(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    }

    /** The UTF-8 bytes of {@code text}, each shown as its byte-level character. */
    static String encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        return new String(out);
    }

    /** The i-th base symbol of the vocabulary (0 ≤ i < 256). */
    static char vocabularySymbol(int i) {
        return VOCABULARY_ORDER[i];
    }
}
