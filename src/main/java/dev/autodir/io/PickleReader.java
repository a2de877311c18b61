package dev.autodir.io;

import java.math.BigInteger;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A Python pickle interpreter (protocols 0–5) that never executes anything.
 *
 * <p>Values become plain Java data: {@code None} → null, bool → Boolean, int → Long (BigInteger when
 * wider), float → Double, str → String, bytes → byte[], list → ArrayList, tuple → {@link Tuple},
 * dict → LinkedHashMap, set → LinkedHashSet. A {@code GLOBAL} is looked up in the caller's table of
 * interpreted names; a name not in it becomes an inert {@link Global}, and calling or instantiating it
 * gives an inert {@link Opaque} holding the arguments, so {@code os.system} or {@code builtins.eval} in
 * a stream is data, never a call. A malformed stream is a {@link PickleException} naming the opcode and
 * its offset.
 */
final class PickleReader {

    /** An interpreted global: a pure Java function of the (already unpickled) arguments. */
    @FunctionalInterface
    interface Callable {
        Object call(List<Object> args);
    }

    /** A global that the reader does not interpret: inert, only its name is kept. */
    record Global(String module, String name) {
        @Override public String toString() { return module + "." + name; }
    }

    /** What calling or instantiating an uninterpreted global would have produced: inert data. */
    static final class Opaque {
        final Object callable;
        final List<Object> args;
        Object state;

        Opaque(Object callable, List<Object> args) {
            this.callable = callable;
            this.args = args;
        }

        @Override public String toString() { return "an object made by " + callable; }
    }

    /** A Python tuple (immutable, compares by content so it can be a dict key; may hold None). */
    record Tuple(List<Object> items) {
        Tuple {
            items = Collections.unmodifiableList(new ArrayList<>(items));
        }

        Object get(int i) { return items.get(i); }

        int size() { return items.size(); }
    }

    /** A malformed or unsupported stream. */
    static final class PickleException extends RuntimeException {
        PickleException(String message) { super(message); }
    }

    private final Map<String, Object> globals;
    private final Function<Object, Object> persistentLoad;

    private byte[] data;
    private int pos;
    private int opStart;
    private int op;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayDeque<Integer> marks = new ArrayDeque<>();
    private final HashMap<Long, Object> memo = new HashMap<>();

    /**
     * @param globals        "module.name" → the value a GLOBAL of that name pushes: a {@link Callable} to
     *                       interpret calls, or any marker object; every other name is an inert {@link Global}
     * @param persistentLoad turns a persistent id into a value (torch: storage references); it may throw
     *                       IllegalArgumentException, reported with the opcode and offset
     */
    PickleReader(Map<String, Object> globals, Function<Object, Object> persistentLoad) {
        this.globals = globals;
        this.persistentLoad = persistentLoad;
    }

    Object load(byte[] bytes) {
        data = bytes;
        pos = 0;
        stack.clear();
        marks.clear();
        memo.clear();
        while (true) {
            if (pos >= data.length) throw malformed("stream ends without STOP", pos);
            opStart = pos;
            op = data[pos++] & 0xff;
            try {
                if (step()) break;
            } catch (PickleException e) {
                throw e;
            } catch (IllegalArgumentException | ClassCastException | IndexOutOfBoundsException e) {
                throw malformed(e.getMessage(), opStart);
            }
        }
        if (stack.size() != 1) throw malformed("STOP with " + stack.size() + " values on the stack (expected 1)", opStart);
        return stack.get(0);
    }

    /** Executes one opcode; true at STOP. */
    private boolean step() {
        switch (op) {
            case 0x80 -> { // PROTO
                int p = u8();
                if (p > 5) throw malformed("unsupported protocol " + p, opStart);
            }
            case 0x95 -> u64len(); // FRAME: only a length (checked to lie inside the stream); its opcodes follow inline
            case 0x2e -> { return true; } // STOP
            case 0x28 -> marks.push(stack.size()); // MARK
            case 0x30 -> pop(); // POP
            case 0x31 -> popMark(); // POP_MARK
            case 0x32 -> push(peek()); // DUP
            case 0x4e -> push(null); // NONE
            case 0x88 -> push(Boolean.TRUE); // NEWTRUE
            case 0x89 -> push(Boolean.FALSE); // NEWFALSE
            case 0x4b -> push((long) u8()); // BININT1
            case 0x4d -> push((long) (u8() | u8() << 8)); // BININT2
            case 0x4a -> push((long) s32()); // BININT
            case 0x8a -> push(longLE(bytes(u8()))); // LONG1
            case 0x8b -> push(longLE(bytes(u32len()))); // LONG4
            case 0x49 -> push(textInt(line())); // INT
            case 0x4c -> push(textLong(line())); // LONG
            case 0x46 -> push(textFloat(line())); // FLOAT
            case 0x47 -> push(Double.longBitsToDouble(beLong())); // BINFLOAT
            case 0x58 -> push(utf8(bytes(u32len()))); // BINUNICODE
            case 0x8c -> push(utf8(bytes(u8()))); // SHORT_BINUNICODE
            case 0x8d -> push(utf8(bytes(u64len()))); // BINUNICODE8
            case 0x56 -> push(rawUnicodeEscape(line())); // UNICODE
            case 0x53 -> push(quoted(line())); // STRING
            case 0x54 -> push(latin1(bytes(u32len()))); // BINSTRING
            case 0x55 -> push(latin1(bytes(u8()))); // SHORT_BINSTRING
            case 0x42 -> push(bytes(u32len())); // BINBYTES
            case 0x43 -> push(bytes(u8())); // SHORT_BINBYTES
            case 0x8e, 0x96 -> push(bytes(u64len())); // BINBYTES8, BYTEARRAY8
            case 0x5d -> push(new ArrayList<>()); // EMPTY_LIST
            case 0x6c -> push(new ArrayList<>(popMark())); // LIST
            case 0x61 -> { Object v = pop(); asList(peek()).add(v); } // APPEND
            case 0x65 -> { List<Object> items = popMark(); asList(peek()).addAll(items); } // APPENDS
            case 0x29 -> push(new Tuple(List.of())); // EMPTY_TUPLE
            case 0x74 -> push(new Tuple(popMark())); // TUPLE
            case 0x85 -> push(tupleOf(1)); // TUPLE1
            case 0x86 -> push(tupleOf(2)); // TUPLE2
            case 0x87 -> push(tupleOf(3)); // TUPLE3
            case 0x7d -> push(new LinkedHashMap<>()); // EMPTY_DICT
            case 0x64 -> { // DICT
                List<Object> items = popMark();
                Map<Object, Object> m = new LinkedHashMap<>();
                putPairs(m, items);
                push(m);
            }
            case 0x73 -> { Object v = pop(); Object k = pop(); asMap(peek()).put(k, v); } // SETITEM
            case 0x75 -> { List<Object> items = popMark(); putPairs(asMap(peek()), items); } // SETITEMS
            case 0x8f -> push(new LinkedHashSet<>()); // EMPTY_SET
            case 0x90 -> { List<Object> items = popMark(); asSet(peek()).addAll(items); } // ADDITEMS
            case 0x91 -> push(Collections.unmodifiableSet(new LinkedHashSet<>(popMark()))); // FROZENSET
            case 0x67 -> push(memoGet(textLongValue(line()))); // GET
            case 0x68 -> push(memoGet(u8())); // BINGET
            case 0x6a -> push(memoGet(u32())); // LONG_BINGET
            case 0x70 -> memo.put(textLongValue(line()), peek()); // PUT
            case 0x71 -> memo.put((long) u8(), peek()); // BINPUT
            case 0x72 -> memo.put(u32(), peek()); // LONG_BINPUT
            case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
            case 0x63 -> { String module = asciiLine(); String name = asciiLine(); push(global(module, name)); } // GLOBAL
            case 0x93 -> { // STACK_GLOBAL
                Object name = pop();
                Object module = pop();
                if (!(module instanceof String m) || !(name instanceof String n)) {
                    throw malformed("STACK_GLOBAL needs two strings", opStart);
                }
                push(global(m, n));
            }
            case 0x52 -> { Object args = pop(); Object fn = pop(); push(call(fn, asTuple(args).items)); } // REDUCE
            case 0x81 -> { Object args = pop(); Object cls = pop(); push(call(cls, asTuple(args).items)); } // NEWOBJ
            case 0x92 -> { // NEWOBJ_EX
                Object kwargs = pop();
                Object args = pop();
                Object cls = pop();
                Object made = call(cls, asTuple(args).items);
                if (made instanceof Opaque o) o.state = kwargs;
                push(made);
            }
            case 0x6f -> { List<Object> items = popMark(); if (items.isEmpty()) throw malformed("OBJ without a class", opStart);
                push(call(items.get(0), items.subList(1, items.size()))); } // OBJ
            case 0x69 -> { String module = asciiLine(); String name = asciiLine(); // INST
                push(call(global(module, name), popMark())); }
            case 0x62 -> build(pop(), peek()); // BUILD
            case 0x51 -> push(persistent(pop())); // BINPERSID
            case 0x50 -> push(persistent(asciiLine())); // PERSID
            case 0x82, 0x83, 0x84 -> throw malformed("extension-registry opcode EXT (copyreg codes) is not supported", opStart);
            case 0x97, 0x98 -> throw malformed("out-of-band buffers (protocol 5) are not supported", opStart);
            default -> throw malformed("unknown opcode", opStart);
        }
        return false;
    }

    private Object global(String module, String name) {
        Object v = globals.get(module + "." + name);
        return v != null ? v : new Global(module, name);
    }

    /** Calls an interpreted global; anything else becomes inert data, never a call. */
    private Object call(Object fn, List<Object> args) {
        if (fn instanceof Callable c) return c.call(args);
        if (isPlainData(fn)) throw malformed("calls " + describe(fn) + ", which is not callable", opStart);
        return new Opaque(fn, Collections.unmodifiableList(new ArrayList<>(args)));
    }

    private void build(Object state, Object target) {
        if (target instanceof Opaque o) {
            o.state = state;
        }
        // a dict's or a tensor's BUILD state (e.g. an OrderedDict's _metadata attribute) sets Python
        // attributes, never items: it is dropped
    }

    private Object persistent(Object pid) {
        return persistentLoad.apply(pid);
    }

    // ---- stack -------------------------------------------------------------------------------

    private void push(Object o) { stack.add(o); }

    private Object pop() {
        int floor = marks.isEmpty() ? 0 : marks.peek();
        if (stack.size() <= floor) throw malformed("stack underflow", opStart);
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        int floor = marks.isEmpty() ? 0 : marks.peek();
        if (stack.size() <= floor) throw malformed("stack underflow", opStart);
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw malformed("no MARK to pop to", opStart);
        int m = marks.pop();
        List<Object> items = new ArrayList<>(stack.subList(m, stack.size()));
        stack.subList(m, stack.size()).clear();
        return items;
    }

    private Tuple tupleOf(int n) {
        Object[] items = new Object[n];
        for (int i = n - 1; i >= 0; i--) items[i] = pop();
        return new Tuple(Arrays.asList(items));
    }

    private Object memoGet(long index) {
        if (!memo.containsKey(index)) throw malformed("memo index " + index + " is not defined", opStart);
        return memo.get(index);
    }

    private void putPairs(Map<Object, Object> m, List<Object> items) {
        if (items.size() % 2 != 0) throw malformed("odd number of items for a dict", opStart);
        for (int i = 0; i < items.size(); i += 2) m.put(items.get(i), items.get(i + 1));
    }

    @SuppressWarnings("unchecked")
    private List<Object> asList(Object o) {
        if (o instanceof List<?> l) return (List<Object>) l;
        throw malformed("expected a list, found " + describe(o), opStart);
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> asMap(Object o) {
        if (o instanceof Map<?, ?> m) return (Map<Object, Object>) m;
        throw malformed("expected a dict, found " + describe(o), opStart);
    }

    @SuppressWarnings("unchecked")
    private Set<Object> asSet(Object o) {
        if (o instanceof LinkedHashSet<?> s) return (Set<Object>) s;
        throw malformed("expected a set, found " + describe(o), opStart);
    }

    private Tuple asTuple(Object o) {
        if (o instanceof Tuple t) return t;
        throw malformed("expected an argument tuple, found " + describe(o), opStart);
    }

    private static boolean isPlainData(Object o) {
        return o == null || o instanceof String || o instanceof Long || o instanceof BigInteger || o instanceof Double
                || o instanceof Boolean || o instanceof byte[] || o instanceof Tuple || o instanceof List || o instanceof Map
                || o instanceof Set || o instanceof Opaque;
    }

    /** A short description of a value for messages. */
    static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof Global g) return "the global " + g;
        if (o instanceof Opaque op) return op.toString();
        if (o instanceof String) return "a string";
        if (o instanceof Long || o instanceof BigInteger) return "an int";
        if (o instanceof Double) return "a float";
        if (o instanceof Boolean) return "a bool";
        if (o instanceof byte[]) return "bytes";
        if (o instanceof Tuple) return "a tuple";
        if (o instanceof List) return "a list";
        if (o instanceof Map) return "a dict";
        if (o instanceof Set) return "a set";
        return o.toString();
    }

    // ---- reading the stream ---------------------------------------------------------------

    private void need(long n) {
        if (n < 0 || n > data.length - pos) {
            throw malformed("needs " + n + " bytes but only " + (data.length - pos) + " remain (truncated)", opStart);
        }
    }

    private int u8() {
        need(1);
        return data[pos++] & 0xff;
    }

    private int s32() {
        need(4);
        int v = (data[pos] & 0xff) | (data[pos + 1] & 0xff) << 8 | (data[pos + 2] & 0xff) << 16 | (data[pos + 3] & 0xff) << 24;
        pos += 4;
        return v;
    }

    private long u32() { return s32() & 0xffffffffL; }

    private int u32len() { return checkedLength(u32()); }

    private int u64len() {
        need(8);
        long v = 0;
        for (int i = 7; i >= 0; i--) v = v << 8 | (data[pos + i] & 0xff);
        pos += 8;
        return checkedLength(v);
    }

    private int checkedLength(long n) {
        if (n < 0 || n > data.length - pos) {
            throw malformed("length " + Long.toUnsignedString(n) + " runs past the end of the stream ("
                    + (data.length - pos) + " bytes remain)", opStart);
        }
        return (int) n;
    }

    private long beLong() {
        need(8);
        long v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | (data[pos + i] & 0xff);
        pos += 8;
        return v;
    }

    private byte[] bytes(int n) {
        need(n);
        byte[] b = Arrays.copyOfRange(data, pos, pos + n);
        pos += n;
        return b;
    }

    private String line() {
        int start = pos;
        while (pos < data.length && data[pos] != '\n') pos++;
        if (pos >= data.length) throw malformed("line without a newline (truncated)", opStart);
        String s = new String(data, start, pos - start, StandardCharsets.ISO_8859_1);
        pos++;
        return s;
    }

    private String asciiLine() {
        String s = line();
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < 0x20 || s.charAt(i) > 0x7e) throw malformed("non-printable name in GLOBAL", opStart);
        }
        return s;
    }

    private String utf8(byte[] b) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw malformed("string is not valid UTF-8", opStart);
        }
    }

    private static String latin1(byte[] b) { return new String(b, StandardCharsets.ISO_8859_1); }

    private static Object longLE(byte[] b) {
        if (b.length == 0) return 0L;
        byte[] be = new byte[b.length];
        for (int i = 0; i < b.length; i++) be[i] = b[b.length - 1 - i];
        BigInteger v = new BigInteger(be); // two's complement, as pickle's LONG1/LONG4
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private Object textInt(String s) {
        if (s.equals("00")) return Boolean.FALSE;
        if (s.equals("01")) return Boolean.TRUE;
        return textLong(s);
    }

    private Object textLong(String s) {
        String t = s.endsWith("L") ? s.substring(0, s.length() - 1) : s;
        try {
            BigInteger v = new BigInteger(t.trim());
            return v.bitLength() < 64 ? (Object) v.longValue() : v;
        } catch (NumberFormatException e) {
            throw malformed("bad integer literal \"" + s + "\"", opStart);
        }
    }

    private long textLongValue(String s) {
        Object v = textLong(s);
        if (v instanceof Long l) return l;
        throw malformed("memo index " + s + " is out of range", opStart);
    }

    private Double textFloat(String s) {
        try {
            return Double.valueOf(s.trim());
        } catch (NumberFormatException e) {
            throw malformed("bad float literal \"" + s + "\"", opStart);
        }
    }

    private String quoted(String s) {
        if (s.length() < 2 || s.charAt(0) != s.charAt(s.length() - 1) || (s.charAt(0) != '\'' && s.charAt(0) != '"')) {
            throw malformed("STRING argument is not quoted", opStart);
        }
        return unescape(s.substring(1, s.length() - 1));
    }

    private String rawUnicodeEscape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length() && (s.charAt(i + 1) == 'u' || s.charAt(i + 1) == 'U')) {
                int n = s.charAt(i + 1) == 'u' ? 4 : 8;
                if (i + 2 + n > s.length()) throw malformed("bad \\u escape", opStart);
                b.appendCodePoint(hex(s.substring(i + 2, i + 2 + n)));
                i += 1 + n;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 >= s.length()) {
                b.append(c);
                continue;
            }
            char e = s.charAt(++i);
            switch (e) {
                case 'n' -> b.append('\n');
                case 't' -> b.append('\t');
                case 'r' -> b.append('\r');
                case '0' -> b.append('\0');
                case 'x' -> {
                    if (i + 3 > s.length()) throw malformed("bad \\x escape", opStart);
                    b.append((char) hex(s.substring(i + 1, i + 3)));
                    i += 2;
                }
                default -> b.append(e); // \\, \', \"
            }
        }
        return b.toString();
    }

    private int hex(String h) {
        try {
            return Integer.parseInt(h, 16);
        } catch (NumberFormatException e) {
            throw malformed("bad hex escape \"" + h + "\"", opStart);
        }
    }

    private PickleException malformed(String problem, int offset) {
        String name = offset < data.length ? opcodeName(data[offset] & 0xff) : "end of stream";
        return new PickleException("malformed pickle: " + problem + " (opcode " + name + " at offset " + offset + ")");
    }

    static String opcodeName(int op) {
        String n = switch (op) {
            case 0x80 -> "PROTO"; case 0x95 -> "FRAME"; case 0x2e -> "STOP"; case 0x28 -> "MARK"; case 0x30 -> "POP";
            case 0x31 -> "POP_MARK"; case 0x32 -> "DUP"; case 0x4e -> "NONE"; case 0x88 -> "NEWTRUE"; case 0x89 -> "NEWFALSE";
            case 0x4b -> "BININT1"; case 0x4d -> "BININT2"; case 0x4a -> "BININT"; case 0x8a -> "LONG1"; case 0x8b -> "LONG4";
            case 0x49 -> "INT"; case 0x4c -> "LONG"; case 0x46 -> "FLOAT"; case 0x47 -> "BINFLOAT"; case 0x58 -> "BINUNICODE";
            case 0x8c -> "SHORT_BINUNICODE"; case 0x8d -> "BINUNICODE8"; case 0x56 -> "UNICODE"; case 0x53 -> "STRING";
            case 0x54 -> "BINSTRING"; case 0x55 -> "SHORT_BINSTRING"; case 0x42 -> "BINBYTES"; case 0x43 -> "SHORT_BINBYTES";
            case 0x8e -> "BINBYTES8"; case 0x96 -> "BYTEARRAY8"; case 0x5d -> "EMPTY_LIST"; case 0x6c -> "LIST";
            case 0x61 -> "APPEND"; case 0x65 -> "APPENDS"; case 0x29 -> "EMPTY_TUPLE"; case 0x74 -> "TUPLE";
            case 0x85 -> "TUPLE1"; case 0x86 -> "TUPLE2"; case 0x87 -> "TUPLE3"; case 0x7d -> "EMPTY_DICT"; case 0x64 -> "DICT";
            case 0x73 -> "SETITEM"; case 0x75 -> "SETITEMS"; case 0x8f -> "EMPTY_SET"; case 0x90 -> "ADDITEMS";
            case 0x91 -> "FROZENSET"; case 0x67 -> "GET"; case 0x68 -> "BINGET"; case 0x6a -> "LONG_BINGET"; case 0x70 -> "PUT";
            case 0x71 -> "BINPUT"; case 0x72 -> "LONG_BINPUT"; case 0x94 -> "MEMOIZE"; case 0x63 -> "GLOBAL";
            case 0x93 -> "STACK_GLOBAL"; case 0x52 -> "REDUCE"; case 0x81 -> "NEWOBJ"; case 0x92 -> "NEWOBJ_EX"; case 0x6f -> "OBJ";
            case 0x69 -> "INST"; case 0x62 -> "BUILD"; case 0x51 -> "BINPERSID"; case 0x50 -> "PERSID"; case 0x82 -> "EXT1";
            case 0x83 -> "EXT2"; case 0x84 -> "EXT4"; case 0x97 -> "NEXT_BUFFER"; case 0x98 -> "READONLY_BUFFER";
            default -> null;
        };
        return n != null ? n : String.format("0x%02x", op);
    }
}
