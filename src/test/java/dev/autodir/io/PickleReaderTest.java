package dev.autodir.io;

import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pickle interpreter on hand-written streams: values, inert globals and malformed input. */
class PickleReaderTest {

    private static Object load(byte[] b) {
        return new PickleReader(TorchCheckpointReader.GLOBALS, pid -> {
            throw new IllegalArgumentException("no persistent ids here");
        }).load(b);
    }

    private static String fails(byte[] b) {
        return assertThrows(PickleReader.PickleException.class, () -> load(b)).getMessage();
    }

    @Test
    void plainValues() {
        PickleBuilder p = PickleBuilder.proto2().emptyDict().mark();
        p.str("ints").mark().integer(7).integer(300).integer(-5).integer(1L << 40).op(0x8a).raw(9, 0, 0, 0, 0, 0, 0, 0, 0, 1).op('l');
        p.str("float").binfloat(0.1);
        p.str("none").none();
        p.str("bools").bool(true).bool(false).op(0x86);
        p.str("bytes").op('C').raw(2, 0xde, 0xad);
        byte[] ete = "été".getBytes(StandardCharsets.UTF_8);
        p.str("short").op(0x8c).raw(ete.length).raw(ete);
        p.str("set").op(0x8f).mark().integer(1).integer(2).op(0x90);
        p.setitems().stop();
        Object o = load(p.bytes());
        Map<?, ?> m = assertInstanceOf(Map.class, o);
        assertEquals(List.of(7L, 300L, -5L, 1L << 40, BigInteger.ONE.shiftLeft(64)), m.get("ints"));
        assertEquals(0.1, m.get("float"));
        assertTrue(m.containsKey("none"));
        assertNull(m.get("none"));
        assertEquals(List.of(true, false), ((PickleReader.Tuple) m.get("bools")).items());
        assertTrue(Arrays.equals(new byte[] {(byte) 0xde, (byte) 0xad}, (byte[]) m.get("bytes")));
        assertEquals(Set.of(1L, 2L), ((Set<?>) m.get("set")).stream().map(k -> ((PickleReader.Key) k).value).collect(java.util.stream.Collectors.toSet()));
        assertEquals("été", m.get("short"));
    }

    @Test
    void textProtocolZeroOpcodes() {
        byte[] b = ("(I42\nI01\nL123456789012345678901234567890L\nF2.5\nS'a\\'b'\nVcaf\\u00e9\nt.").getBytes(StandardCharsets.ISO_8859_1);
        PickleReader.Tuple t = assertInstanceOf(PickleReader.Tuple.class, load(b));
        assertEquals(List.of(42L, true, new BigInteger("123456789012345678901234567890"), 2.5, "a'b", "café"), t.items());
    }

    @Test
    void memoSharesTheSameObject() {
        PickleBuilder p = PickleBuilder.proto2().mark().emptyList().binput(1).binget(1).op(0x86).stop();
        PickleReader.Tuple t = (PickleReader.Tuple) load(p.bytes());
        // the outer MARK is unused by TUPLE2 (Python leaves it too), so look at the pair itself
        assertSame(t.get(0), t.get(1));
    }

    @Test
    void hostileGlobalsAreInertData() {
        PickleBuilder q = PickleBuilder.proto2().mark();
        q.global("os", "system").mark().str("rm -rf /").tuple().reduce();
        q.global("builtins", "eval").mark().str("__import__('os')").tuple().reduce();
        q.str("subprocess").str("Popen").op(0x93).mark().str("ls").tuple().op(0x81);
        q.mark().str("id").op('i').raw("posix\nsystem\n".getBytes(StandardCharsets.US_ASCII));
        q.tuple().stop();
        PickleReader.Tuple t = assertInstanceOf(PickleReader.Tuple.class, load(q.bytes()));
        assertEquals(4, t.size());
        String[] names = {"os.system", "builtins.eval", "subprocess.Popen", "posix.system"};
        for (int i = 0; i < 4; i++) {
            PickleReader.Opaque o = assertInstanceOf(PickleReader.Opaque.class, t.get(i));
            assertEquals(names[i], o.callable.toString());
            assertTrue(PickleReader.describe(o).contains(names[i]));
        }
        assertEquals(List.of("rm -rf /"), ((PickleReader.Opaque) t.get(0)).args);
    }

    @Test
    void malformedStreamsNameOpcodeAndOffset() {
        assertTrue(fails(new byte[] {(byte) 0x80, 2, (byte) 0xff}).contains("unknown opcode (opcode 0xff at offset 2)"));
        assertTrue(fails(new byte[] {(byte) 0x80, 2, '}'}).contains("stream ends without STOP"));
        assertTrue(fails(new byte[] {(byte) 0x80, 2, 'h', 5, '.'}).contains("memo index 5 is not defined (opcode BINGET at offset 2)"));
        assertTrue(fails(new byte[] {(byte) 0x80, 2, 'R', '.'}).contains("stack underflow (opcode REDUCE at offset 2)"));
        assertTrue(fails(new byte[] {(byte) 0x80, 2, ']', 'e', '.'}).contains("no MARK to pop to (opcode APPENDS at offset 3)"));
        assertTrue(fails(new byte[] {(byte) 0x80, 2, 'X', (byte) 0xff, (byte) 0xff, 0, 0, 'a', '.'})
                .contains("length 65535 runs past the end of the stream (2 bytes remain) (opcode BINUNICODE at offset 2)"));
        assertTrue(fails(new byte[] {(byte) 0x80, 9, '.'}).contains("unsupported protocol 9 (opcode PROTO at offset 0)"));
        assertTrue(fails(new byte[] {(byte) 0x80, 2, 'K', 1, 'K', 2, '.'}).contains("STOP with 2 values"));
        assertTrue(fails(new byte[] {(byte) 0x80, 2, 'K', 1, ')', 'R', '.'}).contains("calls an int, which is not callable (opcode REDUCE at offset 5)"));
        assertTrue(fails(new byte[] {(byte) 0x80, 2, (byte) 0x82, 1, '.'}).contains("EXT1"));
    }

    @Test
    void tensorRebuildWithBadArgumentsIsMalformedNotATensor() {
        PickleBuilder p = PickleBuilder.proto2().global("torch._utils", "_rebuild_tensor_v2")
                .mark().str("not a storage").integer(0).ints(2).ints(1).bool(false).none().tuple().reduce().stop();
        String m = fails(p.bytes());
        assertTrue(m.contains("_rebuild_tensor_v2: expected a storage, found a string") && m.contains("REDUCE"), m);
    }
}
