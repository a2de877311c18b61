package dev.autodir.text;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The ftfy fixes that {@link TextFixer} implements. Each expected string is what ftfy 6.3.1's
 * {@code fix_text} returns for the input (checked with the real library when this test was written).
 */
class TextFixerTest {

    @Test
    void uncurlsQuotes() {
        assertEquals("\"curly\" 'single' don't \"low\" 'x",
                TextFixer.fixText("\u201Ccurly\u201D \u2018single\u2019 don\u2019t \u201Elow\u201F \u02BCx"));
    }

    @Test
    void expandsLatinLigatures() {
        // ŉ becomes ʼn, whose ʼ is then uncurled in the same pass
        assertEquals("fine flower ff ij 'n \u017Ft d\u017E",
                TextFixer.fixText("\uFB01ne \uFB02ower \uFB00 \u0133 \u0149 \uFB05 \u01C6"));
    }

    @Test
    void fullwidthAndHalfwidthFormsBecomeNormalWidth() {
        // halfwidth katakana ｶ + ﾞ become カ + combining voiced mark, which NFC composes to ガ
        assertEquals("ABC123! \u30AC A B",
                TextFixer.fixText("\uFF21\uFF22\uFF23\uFF11\uFF12\uFF13\uFF01 \uFF76\uFF9E A\u3000B"));
    }

    @Test
    void unescapesHtmlEntitiesLikeFtfy() {
        assertEquals("fish & chips \u00C9t\u00E9 \u00E9\u00E9A < &#59; &bogus; &amp \uFFFD x \u20AC \uFFFD \uFFFD",
                TextFixer.fixText("fish &amp; chips &EACUTE;t&eacute; &#233;&#xE9;&#X41; &amp;lt; &#59; &bogus; &amp"
                        + " &#0; &#1;x &#128; &#xD800; &#99999999999999999999;"));
        assertEquals("&\u0026Amp;\u00A0", TextFixer.fixText("&AMP;&Amp;&nbsp;"));
    }

    @Test
    void leavesEntitiesAloneFromTheFirstLineWithALessThanSign() {
        assertEquals("&lt;b&gt; <x> &amp;", TextFixer.fixText("&lt;b&gt; <x> &amp;"));
        assertEquals("one &\ntwo < &amp;\nthree &amp;", TextFixer.fixText("one &amp;\ntwo < &amp;\nthree &amp;"));
    }

    @Test
    void normalisesToNfc() {
        assertEquals("\u00E9 \u00C5", TextFixer.fixText("e\u0301 A\u030A"));
    }

    @Test
    void c1ControlsAreReadAsWindows1252() {
        assertEquals("a\u2026b \"quoted\" \u20AC", TextFixer.fixText("a\u0085b \u0093quoted\u0094 \u0080"));
    }

    @Test
    void lineBreaksControlsEscapesAndSurrogates() {
        assertEquals("a\nb\nc\nd\ne", TextFixer.fixText("a\r\nb\rc\u2028d\u2029e"));
        assertEquals("red bom tab\tff\f",
                TextFixer.fixText("\u001B[31mred\u001B[0m \uFEFFbom\u0000\u0007\u007F\u206A\uFFFC tab\tff\f"));
        assertEquals("x\uFFFDy\uFFFD", TextFixer.fixText("x\uD800y\uDC00"));
        assertEquals("\uD83D\uDE00", TextFixer.fixText("\uD83D\uDE00"), "a valid surrogate pair is kept");
    }

    @Test
    void cleanTextIsUnchanged() {
        String clean = "A photo needs rain artifact reduction — naïve café 日本語 🙂 <b> & ; \"x\"";
        assertEquals(clean, TextFixer.fixText(clean));
    }

    @Test
    void tokenizerAppliesTheFixesBeforeBPE() {
        CLIPTokenizer t = CLIPTokenizer.loadDefault();
        assertEquals("\"hello\" it's fine abc", CLIPTokenizer.normalize("\u201CHello\u201D  it\u2019s \uFB01ne\u3000\uFF21\uFF22\uFF23 "));
        assertArrayEquals(t.encode("\"hello\" it's fine abc").ids(),
                t.encode("\u201CHello\u201D  it\u2019s \uFB01ne\u3000\uFF21\uFF22\uFF23 ").ids());
        assertArrayEquals(t.encode("rain & haze").ids(), t.encode("rain &amp; haze").ids());
        assertArrayEquals(t.encode("café").ids(), t.encode("cafe\u0301").ids());
    }
}
