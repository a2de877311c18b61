package dev.autodir.io;

import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipFile;
import org.apache.commons.compress.archivers.zip.ZipMethod;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@code torch.save} zip archive (PyTorch ≥ 1.6, and so every PyTorch-Lightning checkpoint):
 * {@code <prefix>/data.pkl} is a pickle of the saved object in which each tensor is a
 * {@code _rebuild_tensor_v2(storage, offset, size, stride, ...)} call and each storage a persistent id
 * {@code ('storage', torch.FloatStorage, key, location, numel)} naming the raw little-endian bytes in the
 * uncompressed entry {@code <prefix>/data/<key>}.
 *
 * <p>The pickle is interpreted by {@link PickleReader}: only the tensor, parameter and storage
 * rebuilds, OrderedDict and torch.Size are understood; every other global (optimizer state classes,
 * {@code argparse.Namespace}, anything hostile) stays inert data. The tensors come from
 * {@code state_dict} when the top-level object has one (Lightning), else from the top-level dict.
 * Storage entries are memory-mapped in place, never copied.
 */
final class TorchCheckpointReader {
    private TorchCheckpointReader() { }

    /** A storage type named by a pickle GLOBAL such as {@code torch.FloatStorage}. */
    record StorageType(String name, DType dtype) implements PickleReader.Described {
        @Override public String description() { return "the storage type " + name; }
    }

    /** A persistent-id storage reference: dtype, zip record key and element count. */
    record StorageRef(DType dtype, String key, long numel) implements PickleReader.Described {
        @Override public String description() { return "a storage"; }
    }

    /** A tensor view over a storage, as {@code _rebuild_tensor_v2} receives it. */
    record TorchTensor(StorageRef storage, long offset, int[] size, long[] stride) implements PickleReader.Described {
        @Override public String description() { return "a tensor"; }
    }

    /**
     * The largest data.pkl read: AutoDIR's describes ~2,000 tensors in well under 1 MiB (about 100 bytes each);
     * this allows some 600,000 tensors. torch.save stores data.pkl uncompressed.
     */
    static final int MAX_PICKLE_BYTES = 64 << 20;
    /** A deflated data.pkl may inflate to at most this many times its compressed size (plus 64 KiB). */
    static final int MAX_INFLATE_RATIO = 32;

    static final Map<String, Object> GLOBALS = globals();

    private static Map<String, Object> globals() {
        Map<String, Object> g = new HashMap<>();
        Object[][] storages = {
                {"FloatStorage", DType.F32}, {"HalfStorage", DType.F16}, {"BFloat16Storage", DType.BF16},
                {"DoubleStorage", DType.F64}, {"LongStorage", DType.I64}, {"IntStorage", DType.I32},
                {"ShortStorage", DType.I16}, {"CharStorage", DType.I8}, {"ByteStorage", DType.U8},
                {"BoolStorage", DType.BOOL}, {"UntypedStorage", DType.U8}};
        for (Object[] s : storages) g.put("torch." + s[0], new StorageType("torch." + s[0], (DType) s[1]));
        PickleReader.Callable v2 = args -> rebuildTensor("_rebuild_tensor_v2", args, 6);
        g.put("torch._utils._rebuild_tensor_v2", v2);
        g.put("torch._utils._rebuild_tensor", (PickleReader.Callable) args -> rebuildTensor("_rebuild_tensor", args, 4));
        g.put("torch._utils._rebuild_parameter", (PickleReader.Callable) args -> parameter("_rebuild_parameter", args, 3));
        g.put("torch._utils._rebuild_parameter_with_state",
                (PickleReader.Callable) args -> parameter("_rebuild_parameter_with_state", args, 4));
        g.put("torch._tensor._rebuild_from_type_v2", (PickleReader.Callable) TorchCheckpointReader::rebuildFromType);
        g.put("collections.OrderedDict", (PickleReader.Callable) TorchCheckpointReader::orderedDict);
        g.put("torch.Size", (PickleReader.Callable) args -> {
            if (args.size() != 1 || !(args.get(0) instanceof PickleReader.Tuple t)) {
                throw new IllegalArgumentException("torch.Size expects one tuple");
            }
            return t;
        });
        return Collections.unmodifiableMap(g);
    }

    private static Object rebuildTensor(String fn, List<Object> args, int minArgs) {
        if (args.size() < minArgs) throw new IllegalArgumentException(fn + " with " + args.size() + " arguments (expected ≥ " + minArgs + ")");
        if (!(args.get(0) instanceof StorageRef storage)) {
            throw new IllegalArgumentException(fn + ": expected a storage, found " + PickleReader.describe(args.get(0)));
        }
        long offset = integer(fn + " storage_offset", args.get(1));
        int[] size = ints(fn + " size", args.get(2));
        long[] stride = longs(fn + " stride", args.get(3));
        if (stride.length != size.length) {
            throw new IllegalArgumentException(fn + ": size " + Arrays.toString(size) + " and stride " + Arrays.toString(stride)
                    + " differ in rank");
        }
        return new TorchTensor(storage, offset, size, stride);
    }

    private static Object parameter(String fn, List<Object> args, int arity) {
        if (args.size() != arity || !(args.get(0) instanceof TorchTensor t)) {
            throw new IllegalArgumentException(fn + ": expected (tensor, ...) with " + arity + " arguments");
        }
        return t;
    }

    private static Object rebuildFromType(List<Object> args) {
        // (func, new_type, args, state): a tensor subclass; the data comes from func(*args)
        if (args.size() != 4 || !(args.get(0) instanceof PickleReader.Callable f) || !(args.get(2) instanceof PickleReader.Tuple a)) {
            throw new IllegalArgumentException("_rebuild_from_type_v2: expected (known rebuild function, type, args, state)");
        }
        return f.call(a.items());
    }

    private static Object orderedDict(List<Object> args) {
        Map<Object, Object> m = new LinkedHashMap<>();
        if (args.isEmpty()) return m;
        if (args.size() == 1 && args.get(0) instanceof List<?> pairs) {
            for (Object p : pairs) {
                if (!(p instanceof List<?> || p instanceof PickleReader.Tuple)) throw new IllegalArgumentException("OrderedDict: items must be pairs");
                List<?> kv = p instanceof PickleReader.Tuple t ? t.items() : (List<?>) p;
                if (kv.size() != 2) throw new IllegalArgumentException("OrderedDict: items must be pairs");
                m.put(PickleReader.dictKey(kv.get(0)), kv.get(1));
            }
            return m;
        }
        throw new IllegalArgumentException("OrderedDict: unexpected arguments");
    }

    private static long integer(String what, Object o) {
        if (o instanceof Long l && l >= 0) return l;
        throw new IllegalArgumentException(what + " must be an int ≥ 0, found " + (o instanceof Long ? o : PickleReader.describe(o)));
    }

    private static int[] ints(String what, Object o) {
        long[] l = longs(what, o);
        int[] r = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            if (l[i] > Integer.MAX_VALUE) throw new IllegalArgumentException(what + " dimension " + l[i] + " is too large");
            r[i] = (int) l[i];
        }
        return r;
    }

    private static long[] longs(String what, Object o) {
        if (!(o instanceof PickleReader.Tuple t)) throw new IllegalArgumentException(what + " must be a tuple, found " + PickleReader.describe(o));
        if (t.size() > TensorInfo.MAX_RANK) throw new IllegalArgumentException(what + " has " + t.size() + " dimensions, over the limit of " + TensorInfo.MAX_RANK);
        long[] r = new long[t.size()];
        for (int i = 0; i < r.length; i++) r[i] = integer(what, t.get(i));
        return r;
    }

    static Object persistentLoad(Object pid) {
        if (!(pid instanceof PickleReader.Tuple t) || t.size() != 5 || !"storage".equals(t.get(0))) {
            throw new IllegalArgumentException("unsupported persistent id " + describePid(pid) + " (expected ('storage', type, key, location, numel))");
        }
        if (!(t.get(1) instanceof StorageType type)) {
            throw new IllegalArgumentException("unsupported storage type "
                    + (t.get(1) instanceof PickleReader.Global g ? g.toString() : PickleReader.describe(t.get(1))));
        }
        if (!(t.get(2) instanceof String key)) throw new IllegalArgumentException("storage key is " + PickleReader.describe(t.get(2)));
        long numel = integer("storage numel", t.get(4));
        return new StorageRef(type.dtype(), key, numel);
    }

    private static String describePid(Object pid) {
        return pid instanceof String s ? "\"" + WeightStores.abbreviate(s) + "\"" : PickleReader.describe(pid);
    }

    /** Reads the table of tensors; on any failure the file is closed (its mapping released) before this returns. */
    static MappedWeightStore read(MappedFile file) {
        boolean ok = false;
        try {
            MappedWeightStore store = new MappedWeightStore(file, "torch zip", parse(file));
            ok = true;
            return store;
        } finally {
            if (!ok) file.close();
        }
    }

    private static LinkedHashMap<String, StoredTensor> parse(MappedFile file) {
        // our own channel, closed on every path: ZipFile does not close the one it opens when the central
        // directory is corrupt in a way it reports as an unchecked exception, and the descriptor stayed open until GC
        try (SeekableByteChannel channel = Files.newByteChannel(file.path(), StandardOpenOption.READ)) {
            ZipFile zip;
            try {
                zip = ZipFile.builder().setSeekableByteChannel(channel).get();
            } catch (IOException | RuntimeException e) {
                throw new CheckpointException(file.path(), "not a readable zip archive (truncated or corrupt?): " + e.getMessage());
            }
            try (zip) {
                return parse(file, zip);
            } catch (IOException e) {
                throw new CheckpointException(file.path(), "cannot read the zip archive: " + e.getMessage());
            } catch (CheckpointException e) {
                throw e;
            } catch (RuntimeException e) {
                // commons-compress reports some corrupt entries (extra fields, sizes) this way
                throw new CheckpointException(file.path(), "corrupt zip archive: " + e.getMessage());
            }
        } catch (IOException e) {
            throw new CheckpointException(file.path(), "cannot open the zip archive: " + e.getMessage());
        }
    }

    private static LinkedHashMap<String, StoredTensor> parse(MappedFile file, ZipFile zip) throws IOException {
        List<String> pickles = new ArrayList<>();
        for (ZipArchiveEntry e : Collections.list(zip.getEntries())) {
            if (e.getName().equals("data.pkl") || e.getName().endsWith("/data.pkl")) pickles.add(e.getName());
        }
        if (pickles.isEmpty()) throw new CheckpointException(file.path(), "zip archive has no data.pkl entry: not a torch.save checkpoint");
        if (pickles.size() > 1) throw new CheckpointException(file.path(), "zip archive has several data.pkl entries " + pickles);
        String pklName = pickles.get(0);
        String prefix = pklName.substring(0, pklName.length() - "data.pkl".length());

        ZipArchiveEntry order = zip.getEntry(prefix + "byteorder");
        if (order != null) {
            String bo = new String(readEntry(file, zip, order, 64), StandardCharsets.US_ASCII).trim();
            if (!bo.equals("little")) throw new CheckpointException(file.path(), "tensors are stored " + bo + "-endian; only little-endian is supported");
        }

        byte[] pickle = readEntry(file, zip, zip.getEntry(pklName), MAX_PICKLE_BYTES);
        Object root;
        try {
            root = new PickleReader(GLOBALS, TorchCheckpointReader::persistentLoad).load(pickle);
        } catch (PickleReader.PickleException e) {
            throw new CheckpointException(file.path(), pklName + ": " + e.getMessage());
        }

        Map<?, ?> stateDict = stateDict(file, root);
        if (stateDict.size() > WeightStores.MAX_TENSORS) {
            throw new CheckpointException(file.path(), "the state dict has " + stateDict.size() + " entries, over the limit of "
                    + WeightStores.MAX_TENSORS + " tensors (AutoDIR has about 2,000)");
        }
        LinkedHashMap<String, StoredTensor> tensors = new LinkedHashMap<>();
        WeightStores.ExpansionBudget expansion = new WeightStores.ExpansionBudget(file.size());
        Map<String, ZipArchiveEntry> storages = new HashMap<>();
        for (Map.Entry<?, ?> e : stateDict.entrySet()) {
            if (!(e.getKey() instanceof String key)) {
                throw new CheckpointException(file.path(), "state dict has a non-string key (" + PickleReader.describe(e.getKey()) + ")");
            }
            if (!(e.getValue() instanceof TorchTensor t)) {
                throw new CheckpointException(file.path(), "state dict entry \"" + WeightStores.abbreviate(key) + "\": expected a tensor, found "
                        + PickleReader.describe(e.getValue()));
            }
            String entryName = prefix + "data/" + t.storage().key();
            ZipArchiveEntry entry = storages.computeIfAbsent(entryName, zip::getEntry);
            if (entry == null) {
                throw new CheckpointException(file.path(), "tensor \"" + WeightStores.abbreviate(key) + "\": its storage entry " + WeightStores.abbreviate(entryName) + " is missing from the zip archive");
            }
            long bytes = storageEntryBytes(file, entry);
            DType dtype = t.storage().dtype();
            long declared;
            try {
                declared = Math.multiplyExact(t.storage().numel(), dtype.bytes());
            } catch (ArithmeticException ex) {
                throw new CheckpointException(file.path(), "tensor \"" + WeightStores.abbreviate(key) + "\": storage size overflows");
            }
            if (declared > bytes) {
                throw new CheckpointException(file.path(), "tensor \"" + WeightStores.abbreviate(key) + "\": storage " + WeightStores.abbreviate(entryName) + " holds " + bytes
                        + " bytes, shorter than its declared " + t.storage().numel() + " " + dtype + " elements (" + declared + " bytes)");
            }
            TensorInfo info;
            try {
                info = new TensorInfo(key, dtype, t.size());
            } catch (IllegalArgumentException ex) {
                throw new CheckpointException(file.path(), "tensor \"" + WeightStores.abbreviate(key) + "\": " + ex.getMessage());
            }
            StoredTensor st = new StoredTensor(info, entry.getDataOffset(), declared, t.offset(), t.stride());
            String problem = st.boundsProblem();
            if (problem == null) problem = expansion.charge(st);
            if (problem != null) throw new CheckpointException(file.path(), "tensor \"" + WeightStores.abbreviate(key) + "\" (" + WeightStores.abbreviate(entryName) + "): " + problem);
            tensors.put(key, st);
        }
        return tensors;
    }

    private static Map<?, ?> stateDict(MappedFile file, Object root) {
        if (root instanceof Map<?, ?> top) {
            Object sd = top.get("state_dict");
            if (sd == null) return top;            // a bare state dict
            if (sd instanceof Map<?, ?> m) return m;
            throw new CheckpointException(file.path(), "\"state_dict\" is " + PickleReader.describe(sd) + ", not a dict");
        }
        throw new CheckpointException(file.path(), "the pickle holds " + PickleReader.describe(root)
                + ", neither a state dict nor a Lightning checkpoint");
    }

    /** The byte length of a storage entry, which must be stored (not compressed) and lie inside the file. */
    private static long storageEntryBytes(MappedFile file, ZipArchiveEntry e) {
        if (e.getMethod() != ZipMethod.STORED.getCode()) {
            throw new CheckpointException(file.path(), "zip entry " + e.getName() + " is compressed (" + methodName(e.getMethod())
                    + "); torch.save stores tensors uncompressed and only stored entries can be memory-mapped");
        }
        long size = e.getSize();
        long start = e.getDataOffset();
        if (size < 0 || start < 0 || e.getCompressedSize() != size || start > file.size() - size) {
            throw new CheckpointException(file.path(), "zip entry " + e.getName() + " (" + size + " bytes at offset " + start
                    + ") does not lie inside the file (" + file.size() + " bytes): truncated?");
        }
        return size;
    }

    /**
     * An entry's bytes, at most {@code cap}: a stored entry is copied from the mapping, a deflated one inflated
     * only as far as {@code cap} and {@value #MAX_INFLATE_RATIO} times its compressed size allow (its declared
     * size may lie), so a small file cannot make us allocate gigabytes.
     */
    private static byte[] readEntry(MappedFile file, ZipFile zip, ZipArchiveEntry e, int cap) throws IOException {
        if (e.getSize() > cap) {
            throw new CheckpointException(file.path(), "zip entry " + e.getName() + " is " + e.getSize() + " bytes, over the limit of " + cap);
        }
        if (e.getMethod() == ZipMethod.STORED.getCode()) {
            long size = storageEntryBytes(file, e);
            return file.bytes(e.getDataOffset(), (int) size);
        }
        if (e.getMethod() != ZipMethod.DEFLATED.getCode()) {
            // commons-compress would reach for optional codecs (zstd, xz, bzip2, ...), some not on the class path:
            // a NoClassDefFoundError escaped here (found by fuzzing)
            throw new CheckpointException(file.path(), "zip entry " + WeightStores.abbreviate(e.getName()) + " uses "
                    + methodName(e.getMethod()) + "; only stored and deflated entries are read");
        }
        long compressed = Math.max(0, e.getCompressedSize());
        if (compressed > file.size()) {
            throw new CheckpointException(file.path(), "zip entry " + e.getName() + " claims " + compressed
                    + " compressed bytes, more than the file holds (" + file.size() + ")");
        }
        int limit = (int) Math.min(cap, compressed * MAX_INFLATE_RATIO + (64 << 10));
        try (InputStream in = zip.getInputStream(e)) {
            if (in == null) throw new CheckpointException(file.path(), "zip entry " + e.getName() + " uses unsupported " + methodName(e.getMethod()));
            byte[] b = in.readNBytes(limit);
            if (in.read() >= 0) {
                throw new CheckpointException(file.path(), "zip entry " + e.getName() + " inflates past " + limit + " bytes (from "
                        + compressed + " compressed; the limit is " + MAX_INFLATE_RATIO + "x + 64 KiB and " + cap + " bytes)");
            }
            return b;
        }
    }

    private static String methodName(int method) {
        ZipMethod m = ZipMethod.getMethodByCode(method);
        return m != null ? m.name() + " method" : "method " + method;
    }
}
