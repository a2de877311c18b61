package dev.autodir.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** torch.save zip checkpoints crafted byte by byte: views, dtypes, wrappers, and every kind of bad input. */
class TorchCheckpointTest {
    @TempDir Path dir;

    private static final float[] STORAGE = new float[24];

    static {
        for (int i = 0; i < 24; i++) STORAGE[i] = 0.5f * i - 3.25f;
    }

    private static long[] l(long... v) { return v; }

    /** A Lightning-style checkpoint whose state dict holds the entries {@code body} writes (key, value pairs). */
    private Path lightning(String name, Consumer<PickleBuilder> body, Map<String, byte[]> storages) throws IOException {
        PickleBuilder p = PickleBuilder.proto2().emptyDict().mark();
        p.str("epoch").integer(3);
        p.str("state_dict").global("collections", "OrderedDict").emptyTuple().reduce();
        // torch attaches _metadata to the OrderedDict with BUILD: an attribute, not an item
        p.emptyDict().str("_metadata").emptyDict().setitem().build();
        p.mark();
        body.accept(p);
        p.setitems();
        p.str("optimizer_states").emptyList();
        p.str("hyper_parameters").global("argparse", "Namespace").emptyTuple().op(0x81)
                .emptyDict().str("lr").binfloat(1e-4).setitem().build();
        p.str("callbacks").global("os", "system").mark().str("echo pwned").tuple().reduce();
        p.setitems().stop();
        return TestFiles.torchZip(dir.resolve(name), "archive", p.bytes(), storages, false);
    }

    private static Map<String, byte[]> floatStorage() {
        Map<String, byte[]> s = new LinkedHashMap<>();
        s.put("0", TestFiles.le(STORAGE));
        return s;
    }

    @Test
    void viewsWithOffsetsAndStridesAreGathered() throws IOException {
        Path f = lightning("views.ckpt", p -> {
            p.str("full").tensor("FloatStorage", "0", 24, 0, l(2, 3, 4), l(12, 4, 1));
            p.str("transposed").tensor("FloatStorage", "0", 24, 0, l(4, 6), l(1, 4));
            p.str("stepped").tensor("FloatStorage", "0", 24, 5, l(3), l(2));
            p.str("narrow").tensor("FloatStorage", "0", 24, 4, l(2, 2), l(12, 1));
            p.str("scalar").tensor("FloatStorage", "0", 24, 7, l(), l());
            p.str("expanded").tensor("FloatStorage", "0", 24, 1, l(3, 2), l(0, 1));
            p.str("permuted").tensor("FloatStorage", "0", 24, 0, l(3, 2, 4), l(4, 12, 1));
        }, floatStorage());
        for (long chunk : new long[] {MappedFile.DEFAULT_CHUNK_BYTES, 8, 12, 20}) {
            try (WeightStore s = WeightStores.open(f, chunk)) {
                assertEquals(List.of("full", "transposed", "stepped", "narrow", "scalar", "expanded", "permuted"), List.copyOf(s.keys()));
                assertArrayEquals(STORAGE, s.readFloat("full").data());
                assertArrayEquals(new int[] {2, 3, 4}, s.readFloat("full").shape());
                assertArrayEquals(gather(0, new int[] {4, 6}, new long[] {1, 4}), s.readFloat("transposed").data(), "chunk " + chunk);
                assertArrayEquals(new float[] {STORAGE[5], STORAGE[7], STORAGE[9]}, s.readFloat("stepped").data());
                assertArrayEquals(new float[] {STORAGE[4], STORAGE[5], STORAGE[16], STORAGE[17]}, s.readFloat("narrow").data());
                assertArrayEquals(new int[0], s.info("scalar").shape());
                assertArrayEquals(new float[] {STORAGE[7]}, s.readFloat("scalar").data());
                assertArrayEquals(gather(1, new int[] {3, 2}, new long[] {0, 1}), s.readFloat("expanded").data());
                assertArrayEquals(gather(0, new int[] {3, 2, 4}, new long[] {4, 12, 1}), s.readFloat("permuted").data());
            }
        }
    }

    /** The reference gather, element by element: out[i...] = storage[offset + Σ i_d · stride_d]. */
    private static float[] gather(long offset, int[] size, long[] stride) {
        int n = 1;
        for (int d : size) n *= d;
        float[] out = new float[n];
        int[] idx = new int[size.length];
        for (int k = 0; k < n; k++) {
            long at = offset;
            for (int d = 0; d < size.length; d++) at += idx[d] * stride[d];
            out[k] = STORAGE[(int) at];
            for (int d = size.length - 1; d >= 0; d--) {
                if (++idx[d] < size[d]) break;
                idx[d] = 0;
            }
        }
        return out;
    }

    @Test
    void everyStorageTypeParametersAndTensorSubclasses() throws IOException {
        Map<String, byte[]> st = new LinkedHashMap<>();
        st.put("h", TestFiles.le16(0x3c00, 0xc000, 0x0001, 0x7bff));      // 1, -2, 2^-24, 65504
        st.put("b", TestFiles.le16(0x3f80, 0xc0a0));                     // 1, -5
        st.put("d", TestFiles.leDouble(0.1, -1e300));
        st.put("l", TestFiles.le64(-7, Long.MAX_VALUE));
        st.put("i", TestFiles.le32(-3, 1 << 30));
        st.put("s", TestFiles.le16(-2, 300));
        st.put("c", new byte[] {-5, 7});
        st.put("u", new byte[] {(byte) 250, 3});
        st.put("z", new byte[] {0, 1, 1});
        st.put("0", TestFiles.le(STORAGE));
        Path f = lightning("dtypes.ckpt", p -> {
            p.str("half").tensor("HalfStorage", "h", 4, 0, l(4), l(1));
            p.str("bf16").tensor("BFloat16Storage", "b", 2, 0, l(2), l(1));
            p.str("f64").tensor("DoubleStorage", "d", 2, 0, l(2), l(1));
            p.str("i64").tensor("LongStorage", "l", 2, 0, l(2), l(1));
            p.str("i32").tensor("IntStorage", "i", 2, 0, l(2), l(1));
            p.str("i16").tensor("ShortStorage", "s", 2, 0, l(2), l(1));
            p.str("i8").tensor("CharStorage", "c", 2, 0, l(2), l(1));
            p.str("u8").tensor("ByteStorage", "u", 2, 0, l(2), l(1));
            p.str("bool").tensor("BoolStorage", "z", 3, 0, l(3), l(1));
            // nn.Parameter: _rebuild_parameter(tensor, requires_grad, hooks)
            p.str("param").global("torch._utils", "_rebuild_parameter").mark();
            p.tensor("FloatStorage", "0", 24, 2, l(2), l(1));
            p.bool(true).global("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce();
            // a tensor subclass: _rebuild_from_type_v2(func, type, args, state)
            p.str("subclass").global("torch._tensor", "_rebuild_from_type_v2").mark();
            p.global("torch._utils", "_rebuild_tensor_v2").global("torch.nn.parameter", "Parameter");
            p.mark().mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(24).tuple().op('Q');
            p.integer(10).ints(2).ints(1).bool(false).global("collections", "OrderedDict").emptyTuple().reduce().tuple();
            p.emptyDict().tuple().reduce();
        }, st);
        try (WeightStore s = WeightStore.open(f)) {
            assertEquals(DType.F16, s.info("half").dtype());
            assertArrayEquals(new float[] {1f, -2f, 0x1p-24f, 65504f}, s.readFloat("half").data());
            assertArrayEquals(new float[] {1f, -5f}, s.readFloat("bf16").data());
            assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY}, s.readFloat("f64").data());
            assertArrayEquals(new long[] {-7, Long.MAX_VALUE}, s.readLong("i64"));
            assertArrayEquals(new long[] {-3, 1 << 30}, s.readLong("i32"));
            assertArrayEquals(new long[] {-2, 300}, s.readLong("i16"));
            assertArrayEquals(new long[] {-5, 7}, s.readLong("i8"));
            assertArrayEquals(new long[] {250, 3}, s.readLong("u8"));
            assertArrayEquals(new long[] {0, 1, 1}, s.readLong("bool"));
            assertArrayEquals(new float[] {STORAGE[2], STORAGE[3]}, s.readFloat("param").data());
            assertArrayEquals(new float[] {STORAGE[10], STORAGE[11]}, s.readFloat("subclass").data());
            assertEquals(11, s.keys().size(), "optimizer state, hyper_parameters and callbacks are not tensors of the state dict");
        }
    }

    @Test
    void aBareStateDictAtTopLevelWorks() throws IOException {
        PickleBuilder p = PickleBuilder.proto2().global("collections", "OrderedDict").emptyTuple().reduce().mark();
        p.str("w").tensor("FloatStorage", "0", 24, 0, l(4, 6), l(6, 1));
        p.setitems().stop();
        Path f = TestFiles.torchZip(dir.resolve("bare.pt"), "bare", p.bytes(), floatStorage(), false);
        try (WeightStore s = WeightStore.open(f)) {
            assertEquals(List.of("w"), List.copyOf(s.keys()));
            assertArrayEquals(STORAGE, s.readFloat("w").data());
        }
    }

    // ---- bad input: each is one CheckpointException naming the file and the problem ----------------

    private void assertFails(Path f, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> WeightStore.open(f).close());
        assertTrue(e.getMessage().startsWith(f.toString() + ": "), e.getMessage());
        for (String s : fragments) assertTrue(e.getMessage().contains(s), "\"" + s + "\" not in: " + e.getMessage());
    }

    @Test
    void compressedStorageIsRejected() throws IOException {
        PickleBuilder p = PickleBuilder.proto2().emptyDict().str("w").tensor("FloatStorage", "0", 24, 0, l(24), l(1)).setitem().stop();
        Path f = TestFiles.torchZip(dir.resolve("deflated.ckpt"), "a", p.bytes(), floatStorage(), true);
        assertFails(f, "a/data/0", "compressed", "DEFLATED");
    }

    @Test
    void missingStorageEntry() throws IOException {
        Path f = lightning("missing.ckpt", p -> p.str("w").tensor("FloatStorage", "7", 24, 0, l(24), l(1)), floatStorage());
        assertFails(f, "\"w\"", "archive/data/7", "missing");
    }

    @Test
    void storageShorterThanItsDeclaredSize() throws IOException {
        Map<String, byte[]> st = new LinkedHashMap<>();
        st.put("0", Arrays.copyOf(TestFiles.le(STORAGE), 80));
        Path f = lightning("short.ckpt", p -> p.str("w").tensor("FloatStorage", "0", 24, 0, l(24), l(1)), st);
        assertFails(f, "\"w\"", "80 bytes", "shorter", "24 F32");
    }

    @Test
    void viewOutsideItsStorage() throws IOException {
        Path f = lightning("view.ckpt", p -> p.str("w").tensor("FloatStorage", "0", 24, 20, l(2, 3), l(3, 1)), floatStorage());
        assertFails(f, "\"w\"", "needs 26", "24 F32");
    }

    @Test
    void hostileGlobalWhereATensorShouldBeIsNeverRunAndIsAnError() throws IOException {
        Path f = lightning("evil.ckpt", p -> {
            p.str("ok").tensor("FloatStorage", "0", 24, 0, l(24), l(1));
            p.str("w").global("os", "system").mark().str("touch " + dir.resolve("pwned")).tuple().reduce();
        }, floatStorage());
        assertFails(f, "\"w\"", "expected a tensor", "os.system");
        assertTrue(Files.notExists(dir.resolve("pwned")));

        Path g = lightning("eval.ckpt", p -> p.str("w").global("builtins", "eval"), floatStorage());
        assertFails(g, "\"w\"", "expected a tensor", "the global builtins.eval");
    }

    @Test
    void unsupportedStorageType() throws IOException {
        Path f = lightning("complex.ckpt", p -> p.str("w").tensor("ComplexFloatStorage", "0", 12, 0, l(12), l(1)), floatStorage());
        assertFails(f, "data.pkl", "unsupported storage type torch.ComplexFloatStorage", "offset");
    }

    @Test
    void malformedPickleNamesOpcodeAndOffset() throws IOException {
        PickleBuilder p = PickleBuilder.proto2().emptyDict().mark().raw(0xff);
        Path f = TestFiles.torchZip(dir.resolve("corrupt.ckpt"), "a", p.bytes(), floatStorage(), false);
        assertFails(f, "a/data.pkl", "unknown opcode", "0xff at offset 4");

        PickleBuilder q = PickleBuilder.proto2().emptyDict().str("w");   // ends without STOP
        Path g = TestFiles.torchZip(dir.resolve("nostop.ckpt"), "a", q.bytes(), floatStorage(), false);
        assertFails(g, "a/data.pkl", "without STOP");
    }

    @Test
    void zipWithoutDataPkl() throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("a/version", new byte[] {'3'});
        Path f = TestFiles.zip(dir.resolve("nopkl.ckpt"), entries, null);
        assertFails(f, "no data.pkl");
    }

    @Test
    void bigEndianByteorderIsRejected() throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("a/data.pkl", PickleBuilder.proto2().emptyDict().stop().bytes());
        entries.put("a/byteorder", "big".getBytes());
        assertFails(TestFiles.zip(dir.resolve("be.ckpt"), entries, null), "big-endian");
    }

    @Test
    void truncatedOrCorruptFiles() throws IOException {
        Path good = lightning("good.ckpt", p -> p.str("w").tensor("FloatStorage", "0", 24, 0, l(24), l(1)), floatStorage());
        byte[] all = Files.readAllBytes(good);
        Path cut = Files.write(dir.resolve("cut.ckpt"), Arrays.copyOf(all, all.length / 2));
        assertFails(cut, "not a readable zip archive");

        Path empty = Files.write(dir.resolve("empty.ckpt"), new byte[0]);
        assertFails(empty, "empty file");

        Path junk = Files.write(dir.resolve("junk.bin"), "hello, world".getBytes());
        assertFails(junk, "neither a torch zip checkpoint nor a safetensors file");

        Path legacy = Files.write(dir.resolve("legacy.pt"), PickleBuilder.proto2().integer(0x1950a86a20f9469cL).stop().bytes());
        assertFails(legacy, "legacy");

        assertFails(dir.resolve("absent.ckpt"), "no such file");
    }

    /** Replaces the first (or last) occurrence of {@code from} in the golden checkpoint by {@code to} (same length). */
    private Path mutatedGolden(String name, String from, String to, boolean last) throws IOException {
        Path golden = GoldenWeightsTest.GOLDEN_A.resolve("weights.ckpt");
        byte[] all = Files.readAllBytes(golden);
        String s = new String(all, java.nio.charset.StandardCharsets.ISO_8859_1);
        int at = last ? s.lastIndexOf(from) : s.indexOf(from);
        assertTrue(at >= 0 && from.length() == to.length(), from + " not found in " + golden);
        byte[] b = all.clone();
        System.arraycopy(to.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), 0, b, at, to.length());
        return Files.write(dir.resolve(name), b);
    }

    @Test
    void mutatedGoldenCheckpoints() throws IOException {
        // data.pkl starts at byte 64 of weights.ckpt: PROTO 2 (offsets 0-1), then EMPTY_DICT at offset 2
        Path golden = GoldenWeightsTest.GOLDEN_A.resolve("weights.ckpt");
        byte[] b = Files.readAllBytes(golden);
        assertEquals('}', b[64 + 2]);
        b[64 + 2] = (byte) 0xfe;
        assertFails(Files.write(dir.resolve("opcode.ckpt"), b), "weights/data.pkl: malformed pickle: unknown opcode (opcode 0xfe at offset 2)");

        assertFails(mutatedGolden("rebuild.ckpt", "_rebuild_tensor_v2", "_rebuild_tensor_v9", false),
                "state dict entry \"NAFNet.decoders.0.0.beta\": expected a tensor, found an object made by torch._utils._rebuild_tensor_v9");
        assertFails(mutatedGolden("storage.ckpt", "torch\nFloatStorage", "torch\nFloatStorbge", false),
                "unsupported storage type torch.FloatStorbge", "BINPERSID");
        // the last occurrence is the zip's central directory, where entry names are read from
        assertFails(mutatedGolden("entry.ckpt", "weights/data/0", "weights/data/x", true), "\"NAFNet.decoders.0.0.beta\"",
                "weights/data/0 is missing");
    }

    @Test
    void emptyStorageEntryUnderATensor() throws IOException {
        Map<String, byte[]> st = new LinkedHashMap<>();
        st.put("0", new byte[0]);
        Path f = lightning("zero.ckpt", p -> p.str("w").tensor("FloatStorage", "0", 1, 0, l(1), l(1)), st);
        assertFails(f, "\"w\"", "0 bytes", "shorter");
    }
}
