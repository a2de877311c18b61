package dev.autodir.io;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Writes pickle opcodes by hand, as torch.save (protocol 2) lays them out, for tests. */
final class PickleBuilder {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    static PickleBuilder proto2() {
        PickleBuilder b = new PickleBuilder();
        return b.op(0x80).raw(2);
    }

    PickleBuilder op(int opcode) { out.write(opcode); return this; }

    PickleBuilder raw(int... bytes) {
        for (int b : bytes) out.write(b);
        return this;
    }

    PickleBuilder raw(byte[] bytes) { out.writeBytes(bytes); return this; }

    int size() { return out.size(); }

    PickleBuilder mark() { return op('('); }

    PickleBuilder stop() { return op('.'); }

    PickleBuilder none() { return op('N'); }

    PickleBuilder bool(boolean v) { return op(v ? 0x88 : 0x89); }

    PickleBuilder integer(long v) {
        if (v >= 0 && v < 256) return op('K').raw((int) v);
        if (v >= 0 && v < 65536) return op('M').raw((int) v & 0xff, (int) (v >> 8));
        if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            return op('J').raw((int) v & 0xff, (int) (v >> 8) & 0xff, (int) (v >> 16) & 0xff, (int) (v >> 24) & 0xff);
        }
        op(0x8a).raw(8);
        for (int i = 0; i < 8; i++) out.write((int) (v >> (8 * i)) & 0xff);
        return this;
    }

    PickleBuilder binfloat(double v) {
        op('G');
        long bits = Double.doubleToLongBits(v);
        for (int i = 7; i >= 0; i--) out.write((int) (bits >> (8 * i)) & 0xff);
        return this;
    }

    PickleBuilder str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        op('X');
        u32(b.length);
        out.writeBytes(b);
        return this;
    }

    PickleBuilder u32(long n) {
        for (int i = 0; i < 4; i++) out.write((int) (n >> (8 * i)) & 0xff);
        return this;
    }

    PickleBuilder global(String module, String name) {
        op('c');
        out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        return this;
    }

    PickleBuilder emptyTuple() { return op(')'); }

    PickleBuilder tuple() { return op('t'); }

    PickleBuilder emptyDict() { return op('}'); }

    PickleBuilder emptyList() { return op(']'); }

    PickleBuilder setitem() { return op('s'); }

    PickleBuilder setitems() { return op('u'); }

    PickleBuilder reduce() { return op('R'); }

    PickleBuilder build() { return op('b'); }

    PickleBuilder binput(int i) { return op('q').raw(i); }

    PickleBuilder binget(int i) { return op('h').raw(i); }

    PickleBuilder ints(long... v) {
        mark();
        for (long x : v) integer(x);
        return tuple();
    }

    /** {@code _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}, storage as a persistent id. */
    PickleBuilder tensor(String storageType, String key, long numel, long offset, long[] size, long[] stride) {
        global("torch._utils", "_rebuild_tensor_v2");
        mark();
        mark().str("storage").global("torch", storageType).str(key).str("cpu").integer(numel).tuple();
        op('Q');
        integer(offset);
        ints(size);
        ints(stride);
        bool(false);
        global("collections", "OrderedDict").emptyTuple().reduce();
        tuple();
        return reduce();
    }

    byte[] bytes() { return out.toByteArray(); }
}
