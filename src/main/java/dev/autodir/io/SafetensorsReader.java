package dev.autodir.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * A {@code .safetensors} file: an 8-byte little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}}),
 * then the data section; offsets are relative to its start. The header is checked fully before any
 * tensor is served: size cap, known dtypes, shape × dtype = byte length, and, as the reference
 * implementation requires, tensors that tile the data section exactly (sorted by offset, each begins
 * where the previous one ends, the last ends at the end of the file). A gap or trailing bytes are refused,
 * not warned about: no tensor names those bytes, so they are either damage (a truncated or spliced file)
 * or data smuggled past every check, and the reference reader refuses the same files.
 *
 * <p>Limits: a header of at most {@value #MAX_HEADER_BYTES} bytes (AutoDIR's ~2,000 tensors need about
 * 200 KB; the format allows 100 MB, which costs seconds and gigabytes to parse) and at most
 * {@link WeightStores#MAX_TENSORS} tensors. The header is parsed as a stream of tokens, so memory is a
 * small multiple of the header's size.
 */
final class SafetensorsReader {
    private SafetensorsReader() { }

    static final long MAX_HEADER_BYTES = 16L << 20;

    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).maxNumberLength(40)
                    .maxStringLength((int) MAX_HEADER_BYTES).build())
            .build();

    /** Reads the table of tensors; on any failure the file is closed (its mapping released) before this returns. */
    static MappedWeightStore read(MappedFile file) {
        boolean ok = false;
        try {
            MappedWeightStore store = new MappedWeightStore(file, "safetensors", parse(file));
            ok = true;
            return store;
        } finally {
            if (!ok) file.close();
        }
    }

    private record Range(long begin, long end, String name) { }

    private static LinkedHashMap<String, StoredTensor> parse(MappedFile file) {
        long size = file.size();
        if (size < 8) throw fail(file, "truncated: " + size + " bytes, shorter than the 8-byte header length");
        long n = ByteBuffer.wrap(file.bytes(0, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw fail(file, "header length " + Long.toUnsignedString(n) + " is over the limit of " + MAX_HEADER_BYTES
                    + " bytes (AutoDIR's header is about 200 KB)");
        }
        if (n > size - 8) {
            throw fail(file, "header length " + n + " runs past the end of the file (" + size + " bytes): truncated?");
        }
        long dataStart = 8 + n;
        long dataBytes = size - dataStart;
        LinkedHashMap<String, StoredTensor> tensors = new LinkedHashMap<>();
        List<Range> ranges = new ArrayList<>();
        try (JsonParser p = JSON.createParser(file.bytes(8, (int) n))) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw fail(file, "header is not a JSON object");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                p.nextToken();
                if (key.equals("__metadata__")) {
                    checkMetadata(file, p);
                    continue;
                }
                if (tensors.size() >= WeightStores.MAX_TENSORS) {
                    throw fail(file, "more than " + WeightStores.MAX_TENSORS + " tensors (AutoDIR has about 2,000)");
                }
                Range r = tensor(file, p, key, dataStart, dataBytes, tensors);
                ranges.add(r);
            }
            if (p.currentToken() != JsonToken.END_OBJECT) throw fail(file, "header is not a JSON object");
            if (p.nextToken() != null) throw fail(file, "header has data after its JSON object");
        } catch (StreamReadException e) {
            throw fail(file, "header is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw fail(file, "header cannot be read: " + e.getMessage());
        }
        checkTiling(file, ranges, dataBytes);
        return tensors;
    }

    /** One tensor entry (the parser stands on its START_OBJECT): checked and added to {@code tensors}. */
    private static Range tensor(MappedFile file, JsonParser p, String key, long dataStart, long dataBytes,
                                LinkedHashMap<String, StoredTensor> tensors) throws java.io.IOException {
        String where = "tensor \"" + WeightStores.abbreviate(key) + "\": ";
        if (p.currentToken() != JsonToken.START_OBJECT) throw fail(file, where + "header entry is not an object");
        DType dtype = null;
        int[] shape = null;
        long[] offsets = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken v = p.nextToken();
            switch (field) {
                case "dtype" -> {
                    if (v != JsonToken.VALUE_STRING) throw fail(file, where + "\"dtype\" is not a string");
                    try {
                        dtype = DType.fromSafetensors(p.getText());
                    } catch (IllegalArgumentException ex) {
                        throw fail(file, where + WeightStores.abbreviate(ex.getMessage()));
                    }
                }
                case "shape" -> {
                    if (v != JsonToken.START_ARRAY) throw fail(file, where + "\"shape\" is not an array");
                    List<Long> dims = integers(file, p, where + "shape", "dimension", Integer.MAX_VALUE, TensorInfo.MAX_RANK);
                    shape = new int[dims.size()];
                    for (int i = 0; i < shape.length; i++) shape[i] = (int) (long) dims.get(i);
                }
                case "data_offsets" -> {
                    if (v != JsonToken.START_ARRAY) throw fail(file, where + "\"data_offsets\" is not an array");
                    List<Long> o = integers(file, p, where + "data_offsets", "offset", Long.MAX_VALUE, 2);
                    if (o.size() != 2) throw fail(file, where + "\"data_offsets\" must be two integers, got " + o.size());
                    offsets = new long[] {o.get(0), o.get(1)};
                }
                default -> throw fail(file, where + "unknown header field \"" + WeightStores.abbreviate(field) + "\"");
            }
        }
        if (dtype == null) throw fail(file, where + "missing \"dtype\"");
        if (shape == null) throw fail(file, where + "missing \"shape\"");
        if (offsets == null) throw fail(file, where + "missing \"data_offsets\"");
        long begin = offsets[0], end = offsets[1];
        if (end < begin) throw fail(file, where + "data_offsets [" + begin + ", " + end + "] are not 0 ≤ begin ≤ end");
        TensorInfo info;
        try {
            info = new TensorInfo(key, dtype, shape);
        } catch (IllegalArgumentException ex) {
            throw fail(file, where + ex.getMessage());
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(info.numel(), dtype.bytes());
        } catch (ArithmeticException ex) {
            throw fail(file, where + "shape " + Arrays.toString(shape) + " × " + dtype + " overflows");
        }
        if (bytes != end - begin) {
            throw fail(file, where + "shape " + Arrays.toString(shape) + " × " + dtype + " (" + dtype.bytes()
                    + " bytes) = " + bytes + " bytes, but data_offsets [" + begin + ", " + end + "] span " + (end - begin));
        }
        if (end > dataBytes) {
            throw fail(file, where + "data_offsets [" + begin + ", " + end + "] end past the data section ("
                    + dataBytes + " bytes): truncated or a header that lies");
        }
        tensors.put(key, StoredTensor.contiguous(info, dataStart + begin, bytes));
        return new Range(begin, end, key);
    }

    /** The integers of a JSON array (the parser stands on its START_ARRAY), each in [0, max], at most maxCount of them. */
    private static List<Long> integers(MappedFile file, JsonParser p, String what, String entry, long max, int maxCount)
            throws java.io.IOException {
        List<Long> out = new ArrayList<>();
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                throw fail(file, what + " has a " + entry + " that is not an integer in [0, " + max + "]");
            }
            long v = p.getLongValue();
            if (v < 0 || v > max) throw fail(file, what + " has a " + entry + " " + v + " outside [0, " + max + "]");
            if (out.size() >= maxCount) throw fail(file, what + " has more than " + maxCount + " " + entry + "s");
            out.add(v);
        }
        return out;
    }

    /** The reference implementation's rule: sorted by offset, the tensors cover [0, dataBytes) exactly. */
    private static void checkTiling(MappedFile file, List<Range> ranges, long dataBytes) {
        ranges.sort(Comparator.comparingLong(Range::begin).thenComparingLong(Range::end));
        long at = 0;
        Range prev = null;
        for (Range r : ranges) {
            if (r.begin() != at) {
                String after = prev == null ? "the start of the data section" : "tensor \"" + WeightStores.abbreviate(prev.name())
                        + "\" [" + prev.begin() + ", " + prev.end() + ")";
                throw fail(file, r.begin() < at
                        ? "tensors \"" + WeightStores.abbreviate(prev.name()) + "\" [" + prev.begin() + ", " + prev.end() + ") and \""
                                + WeightStores.abbreviate(r.name()) + "\" [" + r.begin() + ", " + r.end() + ") overlap"
                        : "a gap of " + (r.begin() - at) + " bytes that no tensor names, between " + after + " and tensor \""
                                + WeightStores.abbreviate(r.name()) + "\" [" + r.begin() + ", " + r.end() + ")");
            }
            at = r.end();
            prev = r;
        }
        if (at != dataBytes) {
            throw fail(file, (dataBytes - at) + " bytes after the last tensor that no tensor names (the data section is "
                    + dataBytes + " bytes; the tensors end at " + at + ")");
        }
    }

    private static void checkMetadata(MappedFile file, JsonParser p) throws java.io.IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) throw fail(file, "\"__metadata__\" is not an object");
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String k = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw fail(file, "\"__metadata__\" value of \"" + WeightStores.abbreviate(k) + "\" is not a string");
            }
        }
    }

    private static CheckpointException fail(MappedFile file, String problem) {
        return new CheckpointException(file.path(), "safetensors: " + problem);
    }
}
