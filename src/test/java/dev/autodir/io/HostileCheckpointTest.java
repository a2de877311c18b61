package dev.autodir.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Checkpoints made to hurt the reader (issue 12, items 1-7): each must fail (or load) quickly, with a
 * {@link CheckpointException} naming the file, never an Error, a hang or gigabytes of memory.
 */
class HostileCheckpointTest {
    @TempDir Path dir;

    /** Each case gets this long; the honest cost of any of them is milliseconds. */
    private static final Duration QUICK = Duration.ofSeconds(5);

    private static Object load(byte[] b) {
        return new PickleReader(TorchCheckpointReader.GLOBALS, pid -> {
            throw new IllegalArgumentException("no persistent ids here");
        }).load(b);
    }

    private static String pickleFails(byte[] b) {
        return assertTimeoutPreemptively(QUICK, () -> assertThrows(PickleReader.PickleException.class, () -> load(b))).getMessage();
    }

    private Path zip(String name, byte[] pickle, Map<String, byte[]> storages) throws IOException {
        return TestFiles.torchZip(dir.resolve(name), "archive", pickle, storages, false);
    }

    private static String openFails(Path f) {
        CheckpointException e = assertTimeoutPreemptively(QUICK, () -> assertThrows(CheckpointException.class, () -> WeightStore.open(f).close()));
        assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("$$Lambda") || e.getMessage().matches(".*\\w@[0-9a-f]{4,}.*"), e.getMessage());
        return e.getMessage();
    }

    // ---- item 1: recursion on attacker-shaped data ---------------------------------------------------

    @Test
    void aSelfReferentialListAsADictKeyIsRefusedAsUnhashable() {
        // {}, [] memo 0, append itself, then d[l] = 1: 18 bytes, a StackOverflowError (list.hashCode) before
        byte[] b = PickleBuilder.proto2().emptyDict().emptyList().binput(0).binget(0).op('a').integer(1).setitem().stop().bytes();
        assertTrue(b.length < 20);
        assertTrue(pickleFails(b).contains("unhashable list as a dict key"));
        // a list (or dict) in a set is refused the same way
        assertTrue(pickleFails(PickleBuilder.proto2().op(0x8f).mark().emptyList().op(0x90).stop().bytes()).contains("unhashable list"));
        assertTrue(pickleFails(PickleBuilder.proto2().mark().emptyDict().op(0x91).stop().bytes()).contains("unhashable dict"));
    }

    /** 100,000 tuples nested one in the next: {@code ((((...),),),)}. */
    private static PickleBuilder deepTuple(PickleBuilder p, int depth) {
        p.emptyTuple();
        for (int i = 0; i < depth; i++) p.op(0x85);
        return p;
    }

    @Test
    void deeplyNestedValuesAsKeysInFrozensetsAndAsStorageTypesCostNothing() throws IOException {
        // as a dict key
        Object d = assertTimeoutPreemptively(QUICK, () -> load(deepTuple(PickleBuilder.proto2().emptyDict(), 100_000).integer(1).setitem().stop().bytes()));
        assertEquals(1, assertInstanceOf(Map.class, d).size());
        // in a frozenset
        Object s = assertTimeoutPreemptively(QUICK, () -> load(deepTuple(PickleBuilder.proto2().mark(), 100_000).op(0x91).stop().bytes()));
        assertEquals(1, assertInstanceOf(PickleReader.FrozenSet.class, s).items.size());
        // nested lists: [[[[...]]]] built with APPEND
        PickleBuilder lists = PickleBuilder.proto2().emptyList();
        for (int i = 0; i < 100_000; i++) lists.emptyList().op('a');
        assertInstanceOf(List.class, assertTimeoutPreemptively(QUICK, () -> load(lists.stop().bytes())));
        // as the storage type of a tensor: a clear message, not a StackOverflowError from toString
        PickleBuilder p = PickleBuilder.proto2().emptyDict().str("w").global("torch._utils", "_rebuild_tensor_v2").mark();
        p.mark().str("storage");
        deepTuple(p, 100_000);
        p.str("0").str("cpu").integer(4).tuple().op('Q');
        p.integer(0).ints(4).ints(1).bool(false).none().tuple().reduce().setitem().stop();
        Path f = zip("deep-type.ckpt", p.bytes(), Map.of("0", TestFiles.le(1, 2, 3, 4)));
        assertTrue(openFails(f).contains("unsupported storage type a tuple"));
    }

    @Test
    void nestedRebuildFromTypeCallsAreBoundedNotRecursedIntoAStackOverflow() {
        // _rebuild_from_type_v2(g, None, (g, None, (g, None, ..., None), None), None), 100,000 levels deep
        PickleBuilder p = PickleBuilder.proto2().global("torch._tensor", "_rebuild_from_type_v2").binput(0).op('0');
        p.emptyTuple().op('r').u32(1).op('0');
        for (int i = 0; i < 100_000; i++) {
            p.mark().binget(0).none().op('j').u32(1).none().tuple().op('r').u32(1).op('0');
        }
        p.binget(0).op('j').u32(1).reduce().stop();
        String m = pickleFails(p.bytes());
        assertTrue(m.contains("nest more than 64 deep") && m.contains("torch._tensor._rebuild_from_type_v2"), m);
    }

    @Test
    void messagesAboutCyclicValuesAndFunctionsAreShallowAndNameNoJavaClass() throws IOException {
        // a state dict entry that is a cyclic list, and one that is the rebuild function itself (not called)
        PickleBuilder cyclic = PickleBuilder.proto2().emptyDict().str("w").emptyList().binput(0).binget(0).op('a').setitem().stop();
        assertTrue(openFails(zip("cyclic.ckpt", cyclic.bytes(), Map.of())).contains("expected a tensor, found a list"));
        PickleBuilder fn = PickleBuilder.proto2().emptyDict().str("w").global("torch._utils", "_rebuild_tensor_v2").setitem().stop();
        String m = openFails(zip("function.ckpt", fn.bytes(), Map.of()));
        assertTrue(m.contains("found the function torch._utils._rebuild_tensor_v2"), m);
        // calling what calling os.system made, 100,000 times: refused at the second call, shallowly described
        PickleBuilder opaque = PickleBuilder.proto2().emptyDict().str("w").global("os", "system");
        for (int i = 0; i < 100_000; i++) opaque.emptyTuple().reduce();
        String o = openFails(zip("opaque.ckpt", opaque.setitem().stop().bytes(), Map.of()));
        assertTrue(o.contains("calls an object made by os.system, which is not callable") && o.length() < 300, o);
    }

    // ---- item 2: hashing and comparing shared structure -------------------------------------------------

    @Test
    void sixtyFourLevelsOfSharedTuplesAsADictKeyDoNotHang() {
        // t = (t', t') 64 times: 2^64 nodes to a content hash, 135 bytes of file
        PickleBuilder p = PickleBuilder.proto2().emptyDict().emptyTuple();
        for (int i = 0; i < 64; i++) p.op('2').op(0x86);
        byte[] b = p.integer(1).setitem().stop().bytes();
        assertTrue(b.length < 140);
        Map<?, ?> m = assertInstanceOf(Map.class, assertTimeoutPreemptively(QUICK, () -> load(b)));
        assertEquals(1, m.size());
    }

    @Test
    void craftedHashCollisionsBetweenKeysOfDifferentTypesStayLinear() {
        // 20,000 strings and 20,000 ints of one Java hash code in one dict: quadratic (minutes) in a plain HashMap
        int n = 20_000;
        PickleBuilder p = PickleBuilder.proto2().emptyDict().mark();
        int h = 0;
        for (int i = 0; i < n; i++) {
            StringBuilder s = new StringBuilder();
            for (int k = 0; k < 15; k++) s.append(((i >> k) & 1) == 0 ? "Aa" : "BB");
            h = s.toString().hashCode();
            p.str(s.toString()).integer(i);
        }
        int found = 0;
        for (long x = 1; found < n; x++) {
            long v = (x << 32) | ((x ^ h) & 0xffffffffL);
            if (Long.hashCode(v) != h) continue;
            p.integer(v).integer(found++);
        }
        byte[] b = p.setitems().stop().bytes();
        Map<?, ?> m = assertInstanceOf(Map.class, assertTimeoutPreemptively(QUICK, () -> load(b)));
        assertEquals(2 * n, m.size());
    }

    // ---- item 3: quadratic integer parsing ---------------------------------------------------------------

    @Test
    void hugeDecimalLiteralsAreRefusedBeforeParsing() {
        byte[] digits = "9".repeat(3_000_000).getBytes(StandardCharsets.US_ASCII);
        for (char op : new char[] {'I', 'L', 'F'}) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            b.write(op);
            b.writeBytes(digits);
            b.writeBytes("\n.".getBytes(StandardCharsets.US_ASCII));
            String m = pickleFails(b.toByteArray());
            assertTrue(m.contains("literal of 3000000 characters, over the limit of 4300"), m);
        }
        // CPython's limit itself still parses
        assertEquals(new java.math.BigInteger("9".repeat(4300)), load(("L" + "9".repeat(4300) + "L\n.").getBytes(StandardCharsets.US_ASCII)));
    }

    // ---- item 4: memory blow-ups from small files ------------------------------------------------------

    @Test
    void expandedStrideZeroViewsAreRefusedWithTheirNumbers() throws IOException {
        PickleBuilder p = PickleBuilder.proto2().emptyDict();
        p.str("w").tensor("FloatStorage", "0", 1, 0, new long[] {40000, 40000}, new long[] {0, 0}).setitem().stop();
        String m = openFails(zip("expanded.ckpt", p.bytes(), Map.of("0", TestFiles.le(1f))));
        assertTrue(m.contains("reaches 1 stored elements but has 1600000000 (6103 MiB as float32)"), m);
        // an expanded 10^8-entry alphas_cumprod
        PickleBuilder a = PickleBuilder.proto2().emptyDict();
        a.str("alphas_cumprod").tensor("FloatStorage", "0", 1, 0, new long[] {100_000_000}, new long[] {0}).setitem().stop();
        assertTrue(openFails(zip("alphas.ckpt", a.bytes(), Map.of("0", TestFiles.le(0.5f)))).contains("expanded or overlapping views"));
        // a small expanded buffer (HF CLIP's position_ids is one, on a size-1 dimension) still reads
        PickleBuilder ok = PickleBuilder.proto2().emptyDict();
        ok.str("ids").tensor("FloatStorage", "0", 4, 0, new long[] {3, 4}, new long[] {0, 1}).setitem().stop();
        try (WeightStore s = WeightStore.open(zip("small.ckpt", ok.bytes(), Map.of("0", TestFiles.le(1, 2, 3, 4))))) {
            assertEquals(12, s.readFloat("ids").numel());
        }
    }

    @Test
    void aDeflatedPickleThatInflatesFarBeyondItsSizeIsRefused() throws IOException {
        byte[] bomb = new byte[8 << 20]; // 8 MiB of one byte deflates to ~8 KiB
        java.util.Arrays.fill(bomb, (byte) ']');
        Path f = dir.resolve("bomb.ckpt");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(f))) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(bomb);
            z.closeEntry();
        }
        assertTrue(Files.size(f) < 100_000);
        String m = openFails(f);
        assertTrue(m.contains("archive/data.pkl inflates past") && m.contains("32x"), m);
    }

    @Test
    void anEntryCompressedWithAnotherMethodIsRefusedNotAnErrorFromAMissingCodec() throws IOException {
        // found by fuzzing: method 93 (zstd) made commons-compress throw NoClassDefFoundError (zstd-jni is optional)
        byte[] pickle = PickleBuilder.proto2().emptyDict().stop().bytes();
        Path f = dir.resolve("zstd.ckpt");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(f))) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(pickle);
            z.closeEntry();
        }
        byte[] b = Files.readAllBytes(f);
        for (int i = 0; i + 4 < b.length; i++) {               // the method field of the local and the central header
            if (b[i] == 'P' && b[i + 1] == 'K' && b[i + 2] == 3 && b[i + 3] == 4) b[i + 8] = 93;
            if (b[i] == 'P' && b[i + 1] == 'K' && b[i + 2] == 1 && b[i + 3] == 2) b[i + 10] = 93;
        }
        Files.write(f, b);
        String m = openFails(f);
        assertTrue(m.contains("archive/data.pkl uses") && m.contains("only stored and deflated entries are read"), m);
    }

    @Test
    void tooManyValuesAreRefused() {
        byte[] b = new byte[(1 << 22) + 8];
        java.util.Arrays.fill(b, (byte) 'N');
        b[b.length - 1] = '.';
        assertTrue(pickleFails(b).contains("more than 4194304 values"));
    }

    @Test
    void safetensorsHeadersOverTheLimitsAreRefused() throws IOException {
        // a header length over 16 MiB, refused before anything is read
        Path big = dir.resolve("big.safetensors");
        Files.write(big, new byte[] {0, 0, 0, 2, 0, 0, 0, 0, '{', '}'});
        assertTrue(openFails(big).contains("over the limit of 16777216 bytes"));
        // 100,001 empty tensors
        StringBuilder h = new StringBuilder("{");
        for (int i = 0; i <= WeightStores.MAX_TENSORS; i++) {
            if (i > 0) h.append(',');
            h.append("\"t").append(i).append("\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
        }
        Path many = TestFiles.rawSafetensors(dir.resolve("many.safetensors"), h.append('}').toString(), new byte[0]);
        assertTrue(openFails(many).contains("more than 100000 tensors"));
    }

    // ---- item 5: overflowing shapes --------------------------------------------------------------------

    @Test
    void shapesWhoseElementCountOverflowsAreRefused() throws IOException {
        // 65536^4 = 2^64 elements with empty data opened before (the product wrapped to 0)
        Path f = TestFiles.rawSafetensors(dir.resolve("wrap.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536,65536],\"data_offsets\":[0,0]}}", new byte[0]);
        assertTrue(openFails(f).contains("more than 2^63 elements"));
        // 2^62 · 4 bytes overflows the byte count
        Path g = TestFiles.rawSafetensors(dir.resolve("bytes.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1073741824,1073741824,4],\"data_offsets\":[0,0]}}", new byte[0]);
        assertTrue(openFails(g).contains("overflows"));
        // a torch view whose product wraps, over a tiny storage
        PickleBuilder p = PickleBuilder.proto2().emptyDict();
        p.str("w").tensor("FloatStorage", "0", 4, 0, new long[] {65536, 65536, 65536, 65536, 2}, new long[] {0, 0, 0, 0, 1}).setitem().stop();
        assertTrue(openFails(zip("wrap.ckpt", p.bytes(), Map.of("0", TestFiles.le(1, 2, 3, 4)))).contains("more than 2^63 elements"));
        // strides whose products overflow
        PickleBuilder q = PickleBuilder.proto2().emptyDict();
        q.str("w").tensor("FloatStorage", "0", 4, 0, new long[] {3, 2}, new long[] {Long.MAX_VALUE / 2 + 1, 1}).setitem().stop();
        assertTrue(openFails(zip("stride.ckpt", q.bytes(), Map.of("0", TestFiles.le(1, 2, 3, 4)))).contains("overflows"));
    }

    // ---- item 6: leaks on the error path ---------------------------------------------------------------

    private static long openDescriptors() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    private static long mappingsOf(Path f) throws IOException {
        String name = f.toAbsolutePath().toString();
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.endsWith(name)).count();
    }

    @Test
    void failedOpensLeaveNoDescriptorAndNoMappingBehind() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(Path.of("/proc/self/fd")), "needs /proc (Linux)");
        // a zip whose central directory entry is corrupt, a pickle that fails, a safetensors header that lies
        Path good = zip("good.ckpt", PickleBuilder.proto2().emptyDict().stop().bytes(), Map.of());
        byte[] z = Files.readAllBytes(good);
        int cd = -1;
        for (int i = z.length - 4; i >= 0; i--) if (z[i] == 'P' && z[i + 1] == 'K' && z[i + 2] == 1 && z[i + 3] == 2) { cd = i; break; }
        assertTrue(cd > 0);
        z[cd + 30] = (byte) 0xff; // the name length of the first central-directory entry
        z[cd + 31] = (byte) 0x7f;
        Path corrupt = Files.write(dir.resolve("corrupt-cd.ckpt"), z);
        Path badPickle = zip("bad.ckpt", new byte[] {(byte) 0x80, 2, (byte) 0xff}, Map.of());
        Path lies = TestFiles.rawSafetensors(dir.resolve("lies.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[4]);
        List<Path> bad = List.of(corrupt, badPickle, lies);
        for (Path f : bad) openFails(f); // warm up: class loading opens jars
        long before = openDescriptors();
        for (int i = 0; i < 100; i++) for (Path f : bad) openFails(f);
        assertEquals(before, openDescriptors(), "descriptors left open by 300 failed opens");
        for (Path f : bad) assertEquals(0, mappingsOf(f), f + " is still mapped");
    }

    // ---- item 7: gaps between safetensors tensors --------------------------------------------------------

    @Test
    void safetensorsGapsAndTrailingBytesAreRefusedAsTheReferenceDoes() throws IOException {
        Path gap = TestFiles.rawSafetensors(dir.resolve("gap.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                new byte[12]);
        assertTrue(openFails(gap).contains("a gap of 4 bytes that no tensor names, between tensor \"a\" [0, 4) and tensor \"b\" [8, 12)"));
        Path first = TestFiles.rawSafetensors(dir.resolve("first.safetensors"),
                "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]);
        assertTrue(openFails(first).contains("a gap of 4 bytes that no tensor names, between the start of the data section"));
        Path trailing = TestFiles.rawSafetensors(dir.resolve("trailing.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[6]);
        assertTrue(openFails(trailing).contains("2 bytes after the last tensor that no tensor names"));
    }

    // ---- the CLI: one line, exit 1 -------------------------------------------------------------------------

    @Test
    void inspectOfAHostileCheckpointIsOneLineAndExitOne() throws IOException {
        byte[] b = PickleBuilder.proto2().emptyDict().emptyList().binput(0).binget(0).op('a').integer(1).setitem().stop().bytes();
        Path f = zip("key.ckpt", b, new LinkedHashMap<>());
        java.io.StringWriter out = new java.io.StringWriter(), err = new java.io.StringWriter();
        int code = dev.autodir.cli.Main.run(new String[] {"inspect", f.toString()}, new java.io.PrintWriter(out), new java.io.PrintWriter(err));
        assertEquals(1, code);
        assertEquals("", out.toString());
        String e = err.toString().strip();
        assertFalse(e.contains("\n"), e);
        assertTrue(e.startsWith("autodir: " + f + ": ") && e.contains("unhashable list"), e);
    }
}
