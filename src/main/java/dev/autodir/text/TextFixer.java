package dev.autodir.text;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The part of {@code ftfy.fix_text} (ftfy 6, default configuration) that the CLIP tokenizer needs for
 * prompts, written from ftfy's documentation and checked against its behaviour.
 *
 * <p><b>Covered</b>, in ftfy's order, repeated until the text no longer changes:
 * <ol>
 *   <li>HTML entities ({@code &amp;amp;}, {@code &amp;eacute;}, {@code &amp;#233;}, {@code &amp;#xE9;}, and the
 *       all-caps spellings ftfy also accepts such as {@code &amp;EACUTE;} → É). Only entities ending in
 *       {@code ;} are decoded. As in ftfy's "auto" mode, entities are left alone from the first line
 *       that contains a literal {@code <} onwards (the text is then taken to be HTML).</li>
 *   <li>C1 control characters U+0080–U+009F → the Windows-1252 characters they stand for.</li>
 *   <li>Latin ligatures: ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ Ĳ ĳ ŉ Ǆ ǅ ǆ Ǉ ǈ ǉ Ǌ ǋ ǌ Ǳ ǲ ǳ → separate letters.</li>
 *   <li>Character width: fullwidth and halfwidth forms (U+FF01–U+FFEF) → their NFKC form, and the
 *       ideographic space U+3000 → a space.</li>
 *   <li>Curly quotes: ‘ ’ ‚ ‛ ʼ → ' and “ ” „ ‟ → ".</li>
 *   <li>Line breaks: CRLF, CR, U+2028, U+2029, U+0085 → LF.</li>
 *   <li>Lone UTF-16 surrogates → U+FFFD.</li>
 *   <li>ANSI terminal escapes ({@code ESC [ digits ; letter}) removed.</li>
 *   <li>Control characters removed: U+0000–U+0008, U+000B, U+000E–U+001F, U+007F, U+206A–U+206F,
 *       U+FEFF, U+FFF9–U+FFFC (tab, LF, FF and CR are kept).</li>
 *   <li>Unicode NFC normalisation (so decomposed accents compose).</li>
 * </ol>
 *
 * <p><b>Not covered</b>: ftfy's mojibake repair ({@code fix_encoding}, with {@code restore_byte_a0},
 * {@code replace_lossy_sequences} and {@code decode_inconsistent_utf8}). Text such as {@code "cafÃ©"}
 * (UTF-8 read as Windows-1252) is left as it is, where ftfy would turn it into {@code "café"}; the
 * tokens then differ from the official tokenizer's. Character tables come from the JDK (Unicode 13 in
 * Java 17), not from Python's {@code unicodedata}, so characters newer than that may normalise
 * differently. Each line is fixed on its own as in ftfy, but ftfy's 1,000,000-character segment
 * limit is not reproduced.
 *
 * <p>Stateless and thread-safe.
 */
public final class TextFixer {
    private TextFixer() { }

    /** {@code ftfy.fix_text(text)} restricted to the fixes listed in the class documentation. */
    public static String fixText(String text) {
        StringBuilder out = new StringBuilder(text.length());
        boolean unescapeHtml = true; // ftfy's "auto": on until a line with '<' is met, then off for good
        int pos = 0;
        while (pos < text.length()) {
            int newline = text.indexOf('\n', pos);
            int end = newline < 0 ? text.length() : newline + 1;
            String segment = text.substring(pos, end);
            if (unescapeHtml && segment.indexOf('<') >= 0) unescapeHtml = false;
            out.append(fixSegment(segment, unescapeHtml));
            pos = end;
        }
        return out.toString();
    }

    private static String fixSegment(String text, boolean unescapeHtml) {
        while (true) {
            String original = text;
            if (unescapeHtml) text = unescapeHtml(text);
            text = fixC1Controls(text);
            text = fixLatinLigatures(text);
            text = fixCharacterWidth(text);
            text = uncurlQuotes(text);
            text = fixLineBreaks(text);
            text = fixSurrogates(text);
            text = removeTerminalEscapes(text);
            text = removeControlChars(text);
            text = Normalizer.normalize(text, Normalizer.Form.NFC);
            if (text.equals(original)) return text;
        }
    }

    // ---------------------------------------------------------------- HTML entities

    private static final Pattern HTML_ENTITY = Pattern.compile("&#?[0-9A-Za-z]{1,24};");
    private static final Pattern DECIMAL_REFERENCE = Pattern.compile("&#([0-9]+);");
    private static final Pattern HEX_REFERENCE = Pattern.compile("&#[xX]([0-9a-fA-F]+);");

    static String unescapeHtml(String text) {
        if (text.indexOf('&') < 0) return text;
        return HTML_ENTITY.matcher(text).replaceAll(m -> Matcher.quoteReplacement(decodeEntity(m.group())));
    }

    private static String decodeEntity(String entity) {
        if (!entity.startsWith("&#")) {
            String named = NamedEntities.TABLE.get(entity.substring(1, entity.length() - 1));
            return named == null ? entity : named;
        }
        Matcher decimal = DECIMAL_REFERENCE.matcher(entity);
        Matcher hex = HEX_REFERENCE.matcher(entity);
        BigInteger value;
        if (decimal.matches()) value = new BigInteger(decimal.group(1), 10);
        else if (hex.matches()) value = new BigInteger(hex.group(1), 16);
        else return entity; // e.g. "&#12ab;": not a character reference
        String decoded = decodeCharacterReference(value);
        // ftfy keeps the entity when the result still contains ';' (only "&#59;" decodes to one)
        return decoded.indexOf(';') >= 0 ? entity : decoded;
    }

    /** HTML5 numeric character reference rules (as Python's html.unescape applies them). */
    private static String decodeCharacterReference(BigInteger value) {
        if (value.bitLength() > 31) return "\uFFFD";
        int cp = value.intValue();
        if (cp == 0) return "\uFFFD";
        if (cp == 0x0D) return "\r";
        if (cp >= 0x80 && cp <= 0x9F) return String.valueOf(WINDOWS_1252_C1[cp - 0x80]);
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return "\uFFFD";
        boolean invalid = (cp >= 0x01 && cp <= 0x08) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F
                || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
        return invalid ? "" : new String(Character.toChars(cp));
    }

    /** The named-entity table, loaded on first use from {@code html-entities.tsv}. */
    private static final class NamedEntities {
        static final Map<String, String> TABLE = load();

        private static Map<String, String> load() {
            String resource = "html-entities.tsv";
            Map<String, String> table = new HashMap<>(8192);
            try (InputStream in = TextFixer.class.getResourceAsStream(resource)) {
                if (in == null) throw new IllegalStateException("class-path resource dev/autodir/text/" + resource + " is missing");
                BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
                String line;
                while ((line = reader.readLine()) != null) {
                    if (line.isEmpty() || line.charAt(0) == '#') continue;
                    int tab = line.indexOf('\t');
                    StringBuilder chars = new StringBuilder(2);
                    for (String hex : line.substring(tab + 1).split(" ")) chars.appendCodePoint(Integer.parseInt(hex, 16));
                    table.put(line.substring(0, tab), chars.toString());
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read class-path resource dev/autodir/text/" + resource, e);
            }
            return table;
        }
    }

    // ---------------------------------------------------------------- character fixes

    /** Windows-1252 for bytes 0x80–0x9F; the five bytes it leaves undefined stay C1 controls. */
    private static final char[] WINDOWS_1252_C1 = (
            "\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F"
            + "\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178").toCharArray();

    static String fixC1Controls(String text) {
        char[] chars = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= 0x80 && c <= 0x9F) {
                if (chars == null) chars = text.toCharArray();
                chars[i] = WINDOWS_1252_C1[c - 0x80];
            }
        }
        return chars == null ? text : new String(chars);
    }

    private static final Map<Character, String> LIGATURES = Map.ofEntries(
            Map.entry('\u0132', "IJ"), Map.entry('\u0133', "ij"), Map.entry('\u0149', "\u02BCn"),
            Map.entry('\u01C4', "D\u017D"), Map.entry('\u01C5', "D\u017E"), Map.entry('\u01C6', "d\u017E"),
            Map.entry('\u01C7', "LJ"), Map.entry('\u01C8', "Lj"), Map.entry('\u01C9', "lj"),
            Map.entry('\u01CA', "NJ"), Map.entry('\u01CB', "Nj"), Map.entry('\u01CC', "nj"),
            Map.entry('\u01F1', "DZ"), Map.entry('\u01F2', "Dz"), Map.entry('\u01F3', "dz"),
            Map.entry('\uFB00', "ff"), Map.entry('\uFB01', "fi"), Map.entry('\uFB02', "fl"),
            Map.entry('\uFB03', "ffi"), Map.entry('\uFB04', "ffl"), Map.entry('\uFB05', "\u017Ft"),
            Map.entry('\uFB06', "st"));

    static String fixLatinLigatures(String text) {
        return replaceChars(text, c -> LIGATURES.get(c));
    }

    /** NFKC forms of U+FF01..U+FFEF (null where NFKC leaves the character alone). */
    private static final String[] WIDTH_FORMS = new String[0xFFEF - 0xFF01 + 1];

    static {
        for (int c = 0xFF01; c <= 0xFFEF; c++) {
            String s = String.valueOf((char) c);
            String nfkc = Normalizer.normalize(s, Normalizer.Form.NFKC);
            WIDTH_FORMS[c - 0xFF01] = nfkc.equals(s) ? null : nfkc;
        }
    }

    static String fixCharacterWidth(String text) {
        return replaceChars(text, c -> c == '\u3000' ? " " : (c >= 0xFF01 && c <= 0xFFEF) ? WIDTH_FORMS[c - 0xFF01] : null);
    }

    static String uncurlQuotes(String text) {
        return replaceChars(text, c -> (c == '\u02BC' || (c >= '\u2018' && c <= '\u201B')) ? "'"
                : (c >= '\u201C' && c <= '\u201F') ? "\"" : null);
    }

    static String fixLineBreaks(String text) {
        return text.replace("\r\n", "\n").replace('\r', '\n').replace('\u2028', '\n').replace('\u2029', '\n')
                .replace('\u0085', '\n');
    }

    /** Java strings keep valid surrogate pairs as one code point; only lone halves remain to fix. */
    static String fixSurrogates(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean lone;
            if (Character.isHighSurrogate(c)) {
                lone = i + 1 >= text.length() || !Character.isLowSurrogate(text.charAt(i + 1));
                if (!lone) {
                    if (out != null) out.append(c).append(text.charAt(i + 1));
                    i++;
                    continue;
                }
            } else {
                lone = Character.isLowSurrogate(c);
            }
            if (lone && out == null) out = new StringBuilder(text.length()).append(text, 0, i);
            if (out != null) out.append(lone ? '\uFFFD' : c);
        }
        return out == null ? text : out.toString();
    }

    private static final Pattern TERMINAL_ESCAPE = Pattern.compile("\u001B\\[((?:\\p{Nd}|;)*)([a-zA-Z])");

    static String removeTerminalEscapes(String text) {
        if (text.indexOf('\u001B') < 0) return text;
        return TERMINAL_ESCAPE.matcher(text).replaceAll("");
    }

    static String removeControlChars(String text) {
        return replaceChars(text, c -> isRemovedControl(c) ? "" : null);
    }

    private static boolean isRemovedControl(char c) {
        return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F
                || (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
    }

    private interface CharMapping {
        /** The replacement of {@code c}, or null to keep it. */
        String map(char c);
    }

    private static String replaceChars(String text, CharMapping mapping) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            String r = mapping.map(c);
            if (r != null && out == null) out = new StringBuilder(text.length() + 8).append(text, 0, i);
            if (out != null) {
                if (r != null) out.append(r);
                else out.append(c);
            }
        }
        return out == null ? text : out.toString();
    }
}
