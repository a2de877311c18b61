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
 *
 * <p>Hostile streams cost time and memory linear in their length, and nothing recurses on their
 * structure: tuples and frozensets compare by identity (a Python tuple compares by content, which lets
 * 64 levels of {@code (t, t)} cost 2^64 steps), every dict key or set element that is not a string is
 * wrapped in a {@link Key} that hashes with a per-process random seed (so crafted hash collisions cannot
 * make a dict quadratic), unhashable keys (list, dict, set) are refused as Python refuses them, decimal
 * literals are limited to {@value #MAX_LITERAL_CHARS} characters (CPython's own limit for int()),
 * interpreted calls nest at most {@value #MAX_CALL_DEPTH} deep, and a stream may create at most
 * {@value #MAX_VALUES} values. Messages describe values shallowly ({@link #describe}), so a cyclic or
 * deep value cannot make them recurse.
 */
final class PickleReader {

    /** An interpreted global: a pure Java function of the (already unpickled) arguments. */
    @FunctionalInterface
    interface Callable {
        Object call(List<Object> args);
    }

    /** A value made by an interpreted call that can say what it is in a message (never its Java class). */
    interface Described {
        String description();
    }

    /** Decimal INT/LONG/FLOAT literals longer than this are refused (CPython 3.11+ refuses int() of longer strings). */
    static final int MAX_LITERAL_CHARS = 4300;
    /** Interpreted calls (a rebuild inside a rebuild ...) may nest this deep. */
    static final int MAX_CALL_DEPTH = 64;
    /** At most this many values per stream: a state dict needs ~15 per tensor, AutoDIR's ~2,000 tensors about 30,000. */
    static final int MAX_VALUES = 1 << 22;

    private static final long SEED = new java.security.SecureRandom().nextLong();

    /**
     * A dict key or set element that is not a string: numbers, bools and None compare by value and hash
     * with a per-process random seed; every other value (tuple, frozenset, bytes, objects) by identity.
     */
    static final class Key {
        final Object value;
        private final int hash;

        Key(Object value) {
            this.value = value;
            this.hash = hashOf(value);
        }

        private static int hashOf(Object v) {
            long h;
            if (v == null) h = 0x9e3779b97f4a7c15L;
            else if (v instanceof Long l) h = l;
            else if (v instanceof Double d) h = Double.doubleToLongBits(d == 0.0 ? 0.0 : d) ^ 0x5bd1e995L;
            else if (v instanceof Boolean b) h = b ? 0x2545f4914f6cdd1dL : 0x1b873593L;
            else if (v instanceof BigInteger b) {
                h = 0;
                for (byte x : b.toByteArray()) h = mix(h ^ x);
            } else return System.identityHashCode(v);
            return (int) (mix(h ^ SEED) >>> 32);
        }

        private static long mix(long z) { // splitmix64's finaliser
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            return z ^ (z >>> 31);
        }

        private boolean byValue() {
            return value == null || value instanceof Long || value instanceof Double || value instanceof Boolean
                    || value instanceof BigInteger;
        }

        @Override public boolean equals(Object o) {
            if (this == o) return true;
            if (!(o instanceof Key k) || k.hash != hash) return false;
            if (!byValue()) return value == k.value;
            return java.util.Objects.equals(value, k.value);
        }

        @Override public int hashCode() { return hash; }

        @Override public String toString() { return describe(value); }
    }

    /** An immutable Python frozenset; compares by identity (see the class comment). */
    static final class FrozenSet {
        final Set<Object> items;

        FrozenSet(Set<Object> items) { this.items = Collections.unmodifiableSet(items); }
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

        @Override public String toString() { return "an object made by " + name(callable); }
    }

    /** A Python tuple (immutable; may hold None). Compares by identity, see the class comment. */
    record Tuple(List<Object> items) {
        Tuple {
            items = Collections.unmodifiableList(new ArrayList<>(items));
        }

        Object get(int i) { return items.get(i); }

        int size() { return items.size(); }

        @Override public boolean equals(Object o) { return this == o; }

        @Override public int hashCode() { return System.identityHashCode(this); }

        @Override public String toString() { return "a tuple of " + items.size(); }
    }

    /** An interpreted global as the stream names it; calls through it count towards {@link #MAX_CALL_DEPTH}. */
    private final class Interpreted implements Callable {
        private final String name;
        private final Callable body;

        Interpreted(String name, Callable body) {
            this.name = name;
            this.body = body;
        }

        @Override public Object call(List<Object> args) {
            if (++callDepth > MAX_CALL_DEPTH) {
                throw malformed("interpreted calls (" + name + ") nest more than " + MAX_CALL_DEPTH + " deep", opStart);
            }
            try {
                return body.call(args);
            } finally {
                callDepth--;
            }
        }

        @Override public String toString() { return name; }
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
    private int callDepth;
    private int values;

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
        callDepth = 0;
        values = 0;
        while (true) {
            if (pos >= data.length) throw malformed("stream ends without STOP", pos);
            opStart = pos;
            op = data[pos++] & 0xff;
            try {
                if (step()) break;
            } catch (PickleException e) {
                throw e;
            } catch (IllegalArgumentException | IllegalStateException | ClassCastException | IndexOutOfBoundsException
                     | ArithmeticException | UnsupportedOperationException e) {
                // the interpreted globals report bad arguments this way; their messages are written for users
                throw malformed(e.getMessage(), opStart);
            } catch (StackOverflowError e) {
                // nothing here recurses on the stream's structure; this is the last line of defence
                throw malformed("structure nested too deeply to interpret", opStart);
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
            case 0x73 -> { Object v = pop(); Object k = pop(); asMap(peek()).put(key(k), v); } // SETITEM
            case 0x75 -> { List<Object> items = popMark(); putPairs(asMap(peek()), items); } // SETITEMS
            case 0x8f -> push(new LinkedHashSet<>()); // EMPTY_SET
            case 0x90 -> { List<Object> items = popMark(); Set<Object> set = asSet(peek()); for (Object i : items) set.add(key(i)); } // ADDITEMS
            case 0x91 -> { // FROZENSET
                Set<Object> set = new LinkedHashSet<>();
                for (Object i : popMark()) set.add(key(i));
                push(new FrozenSet(set));
            }
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
        String full = module + "." + name;
        Object v = globals.get(full);
        if (v instanceof Callable c) return new Interpreted(full, c);
        return v != null ? v : new Global(module, name);
    }

    /**
     * A value as a dict key or set element: strings as they are, unhashable values (list, dict, set) refused
     * as Python refuses them, anything else as a {@link Key}.
     */
    static Object dictKey(Object k) {
        if (k instanceof String) return k;
        if (k instanceof List || k instanceof Map || k instanceof LinkedHashSet) {
            throw new IllegalArgumentException("unhashable " + describe(k).replaceFirst("^an? ", "") + " as a dict key or set element");
        }
        return k instanceof Key ? k : new Key(k);
    }

    private Object key(Object k) {
        try {
            return dictKey(k);
        } catch (IllegalArgumentException e) {
            throw malformed(e.getMessage(), opStart);
        }
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

    private void push(Object o) {
        if (++values > MAX_VALUES) {
            throw malformed("more than " + MAX_VALUES + " values: far more than any model checkpoint holds", opStart);
        }
        stack.add(o);
    }

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
        for (int i = 0; i < items.size(); i += 2) m.put(key(items.get(i)), items.get(i + 1));
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
                || o instanceof Set || o instanceof FrozenSet || o instanceof Opaque;
    }

    /**
     * A short description of a value for messages. Shallow: it never looks inside a container, so a cyclic
     * or deeply nested value costs nothing, and it never shows a Java class name.
     */
    static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof Key k) return describe(k.value);
        if (o instanceof Global g) return "the global " + g;
        if (o instanceof Opaque op) return op.toString();
        if (o instanceof Interpreted i) return "the function " + i.name;
        if (o instanceof Described d) return d.description();
        if (o instanceof String) return "a string";
        if (o instanceof Long || o instanceof BigInteger) return "an int";
        if (o instanceof Double) return "a float";
        if (o instanceof Boolean) return "a bool";
        if (o instanceof byte[]) return "bytes";
        if (o instanceof Tuple) return "a tuple";
        if (o instanceof List) return "a list";
        if (o instanceof Map) return "a dict";
        if (o instanceof Set) return "a set";
        if (o instanceof FrozenSet) return "a frozenset";
        return "a value";
    }

    /** What made an {@link Opaque}: a global's or a function's name, else a shallow description. */
    private static String name(Object callable) {
        if (callable instanceof Global g) return g.toString();
        if (callable instanceof Interpreted i) return i.name;
        if (callable instanceof Opaque) return "another such object";
        return describe(callable);
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

    private void checkLiteral(String s, String what) {
        if (s.length() > MAX_LITERAL_CHARS) {
            throw malformed(what + " literal of " + s.length() + " characters, over the limit of " + MAX_LITERAL_CHARS, opStart);
        }
    }

    private Object textLong(String s) {
        String t = s.endsWith("L") ? s.substring(0, s.length() - 1) : s;
        checkLiteral(t.trim().startsWith("-") || t.trim().startsWith("+") ? t.trim().substring(1) : t.trim(), "integer");
        try {
            BigInteger v = new BigInteger(t.trim());
            return v.bitLength() < 64 ? (Object) v.longValue() : v;
        } catch (NumberFormatException e) {
            throw malformed("bad integer literal \"" + abbreviate(s) + "\"", opStart);
        }
    }

    private long textLongValue(String s) {
        Object v = textLong(s);
        if (v instanceof Long l) return l;
        throw malformed("memo index " + abbreviate(s) + " is out of range", opStart);
    }

    private Double textFloat(String s) {
        checkLiteral(s, "float");
        try {
            return Double.valueOf(s.trim());
        } catch (NumberFormatException e) {
            throw malformed("bad float literal \"" + abbreviate(s) + "\"", opStart);
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
                b.appendCodePoint(codePoint(s.substring(i + 2, i + 2 + n)));
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
            throw malformed("bad hex escape \"" + abbreviate(h) + "\"", opStart);
        }
    }

    private int codePoint(String h) {
        int cp = hex(h);
        if (cp < 0 || cp > Character.MAX_CODE_POINT) throw malformed("\\U escape " + abbreviate(h) + " is not a Unicode code point", opStart);
        return cp;
    }

    private static String abbreviate(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < Math.min(s.length(), 40); i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return s.length() > 40 ? b + "..." : b.toString();
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
