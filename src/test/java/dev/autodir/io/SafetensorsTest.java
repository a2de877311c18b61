package dev.autodir.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Safetensors files written by the test: every dtype, odd alignments and small chunks, and lying headers. */
class SafetensorsTest {
    @TempDir Path dir;

    private static Map<String, TestFiles.Raw> sample() {
        Map<String, TestFiles.Raw> t = new LinkedHashMap<>();
        t.put("f32", new TestFiles.Raw(DType.F32, new int[] {2, 3}, TestFiles.le(1.5f, -2f, 3.25f, 0f, -0f, 7e-39f)));
        // fp16: 1, -2, smallest subnormal 2^-24, largest normal 65504, -0, +inf, a nan
        t.put("f16", new TestFiles.Raw(DType.F16, new int[] {7}, TestFiles.le16(0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000, 0x7c00, 0x7e00)));
        t.put("bf16", new TestFiles.Raw(DType.BF16, new int[] {3}, TestFiles.le16(0x3f80, 0xc0a0, 0x0001)));
        t.put("f64", new TestFiles.Raw(DType.F64, new int[] {2}, TestFiles.leDouble(1.0 / 3, 1e40)));
        t.put("scalar", new TestFiles.Raw(DType.F32, new int[] {}, TestFiles.le(2.6592f)));
        t.put("empty", new TestFiles.Raw(DType.F32, new int[] {0, 4}, new byte[0]));
        t.put("i64", new TestFiles.Raw(DType.I64, new int[] {1, 3}, TestFiles.le64(0, -1, 1L << 40)));
        t.put("i32", new TestFiles.Raw(DType.I32, new int[] {2}, TestFiles.le32(-5, 123456)));
        t.put("u8", new TestFiles.Raw(DType.U8, new int[] {2}, new byte[] {(byte) 200, 1}));
        t.put("bool", new TestFiles.Raw(DType.BOOL, new int[] {2}, new byte[] {1, 0}));
        return t;
    }

    private static void assertSample(WeightStore s) {
        assertEquals(List.of("f32", "f16", "bf16", "f64", "scalar", "empty", "i64", "i32", "u8", "bool"), List.copyOf(s.keys()));
        assertArrayEquals(new float[] {1.5f, -2f, 3.25f, 0f, -0f, 7e-39f}, s.readFloat("f32").data());
        assertArrayEquals(new int[] {2, 3}, s.readFloat("f32").shape());
        float[] h = s.readFloat("f16").data();
        assertArrayEquals(new float[] {1f, -2f, 0x1p-24f, 65504f, -0f, Float.POSITIVE_INFINITY}, java.util.Arrays.copyOf(h, 6));
        assertTrue(Float.isNaN(h[6]));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(h[4]), "fp16 -0 keeps its sign");
        assertArrayEquals(new float[] {1f, -5f, Float.intBitsToFloat(0x00010000)}, s.readFloat("bf16").data());
        assertArrayEquals(new float[] {(float) (1.0 / 3), Float.POSITIVE_INFINITY}, s.readFloat("f64").data());
        assertArrayEquals(new int[0], s.readFloat("scalar").shape());
        assertArrayEquals(new float[] {2.6592f}, s.readFloat("scalar").data());
        assertEquals(0, s.readFloat("empty").numel());
        assertArrayEquals(new long[] {0, -1, 1L << 40}, s.readLong("i64"));
        assertArrayEquals(new long[] {-5, 123456}, s.readLong("i32"));
        assertArrayEquals(new long[] {200, 1}, s.readLong("u8"));
        assertArrayEquals(new long[] {1, 0}, s.readLong("bool"));
    }

    @Test
    void everyDtypeReadsBack() throws IOException {
        Path f = TestFiles.safetensors(dir.resolve("a.safetensors"), sample(), 0);
        try (WeightStore s = WeightStore.open(f)) {
            assertSample(s);
            assertEquals(new TensorInfo("i64", DType.I64, new int[] {1, 3}), s.info("i64"));
        }
    }

    @Test
    void unalignedDataAndTinyChunksGiveTheSameValues() throws IOException {
        // pads 0..7 shift the data section so that elements straddle chunk boundaries of 8, 12, 16 and 24 bytes
        for (int pad = 0; pad < 8; pad++) {
            Path f = TestFiles.safetensors(dir.resolve("p" + pad + ".safetensors"), sample(), pad);
            for (long chunk : new long[] {8, 12, 16, 24, 1 << 20}) {
                try (WeightStore s = WeightStores.open(f, chunk)) {
                    assertSample(s);
                }
            }
        }
    }

    @Test
    void wrongReadKindAndMissingKeyAndClosedStore() throws IOException {
        Path f = TestFiles.safetensors(dir.resolve("a.safetensors"), sample(), 0);
        WeightStore s = WeightStore.open(f);
        CheckpointException e = assertThrows(CheckpointException.class, () -> s.readLong("f32"));
        assertTrue(e.getMessage().contains("\"f32\" is F32"), e.getMessage());
        e = assertThrows(CheckpointException.class, () -> s.info("model.nope"));
        assertTrue(e.getMessage().startsWith(f + ": ") && e.getMessage().contains("no tensor named \"model.nope\""), e.getMessage());
        s.close();
        e = assertThrows(CheckpointException.class, () -> s.readFloat("f32"));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    // ---- lying or corrupt headers ---------------------------------------------------------------

    private void assertFails(Path f, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> WeightStore.open(f).close());
        assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
        for (String s : fragments) assertTrue(e.getMessage().contains(s), "\"" + s + "\" not in: " + e.getMessage());
    }

    private Path raw(String name, String header, int dataBytes) throws IOException {
        return TestFiles.rawSafetensors(dir.resolve(name), header, new byte[dataBytes]);
    }

    @Test
    void headerLengthOverTheCapOrPastTheEnd() throws IOException {
        byte[] b = new byte[16];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(200L << 20).put((byte) '{');
        assertFails(Files.write(dir.resolve("cap.safetensors"), b), "cap");

        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).put((byte) '{');
        assertFails(Files.write(dir.resolve("past.safetensors"), b), "header length 1000 runs past the end");
    }

    @Test
    void badJsonAndDuplicateKeysAndBadEntries() throws IOException {
        assertFails(raw("json.safetensors", "{\"a\": {\"dtype\": ", 0), "not valid JSON");
        assertFails(raw("dup.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "not valid JSON", "Duplicate");
        assertFails(raw("arr.safetensors", "[1,2]", 0), "neither a torch zip checkpoint nor a safetensors file");
        assertFails(raw("field.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4),
                "\"a\"", "unknown header field \"x\"");
        assertFails(raw("noshape.safetensors", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "\"a\"", "shape");
        assertFails(raw("neg.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "\"a\"", "dimension");
        assertFails(raw("meta.safetensors", "{\"__metadata__\":{\"k\":3}}", 0), "__metadata__", "\"k\"");
    }

    @Test
    void unknownDtype() throws IOException {
        assertFails(raw("f8.safetensors", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4),
                "\"a\"", "unknown safetensors dtype \"F8_E4M3\"");
    }

    @Test
    void shapeTimesDtypeMustEqualTheByteLength() throws IOException {
        assertFails(raw("len.safetensors", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}", 8),
                "\"a\"", "shape [2, 3] × F16 (2 bytes) = 12 bytes", "span 8");
    }

    @Test
    void offsetsOutsideTheFileOrOverlapping() throws IOException {
        assertFails(raw("trunc.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12),
                "\"a\"", "end past the data section (12 bytes)");
        assertFails(raw("overlap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20), "\"a\"", "\"b\"", "overlap");
        assertFails(raw("order.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4), "begin ≤ end");
    }

    @Test
    void truncatedGoldenFileIsAnErrorNotAPartialStore() throws IOException {
        Path golden = GoldenWeightsTest.GOLDEN_A.resolve("weights.safetensors");
        byte[] all = Files.readAllBytes(golden);
        assertFails(Files.write(dir.resolve("cut.safetensors"), java.util.Arrays.copyOf(all, all.length - 100)),
                "end past the data section");
        assertFails(Files.write(dir.resolve("head.safetensors"), java.util.Arrays.copyOf(all, 5000)), "runs past the end");
        // a header that lies about a size: change one shape digit in place ("[32, 8, 3, 3]" has no room, use "[1000]" → "[1001]")
        String s = new String(all, 0, 8 + 66144, java.nio.charset.StandardCharsets.ISO_8859_1);
        int at = s.indexOf("\"alphas_cumprod\":{\"dtype\":\"F32\",\"shape\":[1000]");
        assertTrue(at > 0, "alphas_cumprod's header entry not found in " + golden);
        int digit = s.indexOf("[1000]", at) + 4;
        byte[] lie = all.clone();
        lie[digit] = '1';
        assertFails(Files.write(dir.resolve("lie.safetensors"), lie), "\"alphas_cumprod\"", "4004 bytes", "span 4000");
    }
}
