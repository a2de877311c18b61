package dev.autodir.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@code .safetensors} file: an 8-byte little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}}),
 * then the data section; offsets are relative to its start. The header is checked fully before any
 * tensor is served: size cap, known dtypes, shape × dtype = byte length, every range inside the file
 * and no two ranges overlapping.
 */
final class SafetensorsReader {
    private SafetensorsReader() { }

    /** The cap the reference implementation uses too: a larger header is corrupt or hostile. */
    static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    static MappedWeightStore read(MappedFile file) {
        try {
            return new MappedWeightStore(file, "safetensors", parse(file));
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static LinkedHashMap<String, StoredTensor> parse(MappedFile file) {
        long size = file.size();
        if (size < 8) throw fail(file, "truncated: " + size + " bytes, shorter than the 8-byte header length");
        long n = ByteBuffer.wrap(file.bytes(0, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw fail(file, "header length " + Long.toUnsignedString(n) + " is over the " + MAX_HEADER_BYTES + "-byte cap");
        }
        if (n > size - 8) {
            throw fail(file, "header length " + n + " runs past the end of the file (" + size + " bytes): truncated?");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.bytes(8, (int) n));
        } catch (JsonProcessingException e) {
            throw fail(file, "header is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw fail(file, "header cannot be read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) throw fail(file, "header is not a JSON object");

        long dataStart = 8 + n;
        long dataBytes = size - dataStart;
        LinkedHashMap<String, StoredTensor> tensors = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();     // {begin, end, index}
        List<String> names = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String key = e.getKey();
            JsonNode v = e.getValue();
            if (key.equals("__metadata__")) {
                checkMetadata(file, v);
                continue;
            }
            String where = "tensor \"" + key + "\": ";
            if (!v.isObject()) throw fail(file, where + "header entry is not an object");
            for (Map.Entry<String, JsonNode> f : v.properties()) {
                String field = f.getKey();
                if (!field.equals("dtype") && !field.equals("shape") && !field.equals("data_offsets")) {
                    throw fail(file, where + "unknown header field \"" + field + "\"");
                }
            }
            JsonNode dt = v.get("dtype");
            if (dt == null || !dt.isTextual()) throw fail(file, where + "missing or non-string \"dtype\"");
            DType dtype;
            try {
                dtype = DType.fromSafetensors(dt.asText());
            } catch (IllegalArgumentException ex) {
                throw fail(file, where + ex.getMessage());
            }
            JsonNode sh = v.get("shape");
            if (sh == null || !sh.isArray()) throw fail(file, where + "missing or non-array \"shape\"");
            int[] shape = new int[sh.size()];
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = sh.get(i);
                if (!d.canConvertToInt() || !d.isIntegralNumber() || d.asInt() < 0) {
                    throw fail(file, where + "shape " + sh + " has a dimension that is not an int ≥ 0");
                }
                shape[i] = d.asInt();
            }
            JsonNode off = v.get("data_offsets");
            if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).canConvertToLong()
                    || !off.get(1).canConvertToLong() || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()) {
                throw fail(file, where + "\"data_offsets\" must be two integers, got " + off);
            }
            long begin = off.get(0).asLong();
            long end = off.get(1).asLong();
            if (begin < 0 || end < begin) throw fail(file, where + "data_offsets [" + begin + ", " + end + "] are not 0 ≤ begin ≤ end");
            TensorInfo info = new TensorInfo(key, dtype, shape);
            long bytes;
            try {
                bytes = Math.multiplyExact(info.numel(), dtype.bytes());
            } catch (ArithmeticException ex) {
                throw fail(file, where + "shape " + Arrays.toString(shape) + " overflows");
            }
            if (bytes != end - begin) {
                throw fail(file, where + "shape " + Arrays.toString(shape) + " × " + dtype + " (" + dtype.bytes()
                        + " bytes) = " + bytes + " bytes, but data_offsets [" + begin + ", " + end + "] span " + (end - begin));
            }
            if (end > dataBytes) {
                throw fail(file, where + "data_offsets [" + begin + ", " + end + "] end past the data section ("
                        + dataBytes + " bytes): truncated or a header that lies");
            }
            ranges.add(new long[] {begin, end, names.size()});
            names.add(key);
            tensors.put(key, StoredTensor.contiguous(info, dataStart + begin, bytes));
        }
        ranges.sort(Comparator.<long[]>comparingLong(r -> r[0]).thenComparingLong(r -> r[1]));
        long[] prev = null;
        for (long[] r : ranges) {
            if (r[0] == r[1]) continue;                  // empty tensors occupy nothing
            if (prev != null && r[0] < prev[1]) {
                throw fail(file, "tensors \"" + names.get((int) prev[2]) + "\" [" + prev[0] + ", " + prev[1] + ") and \""
                        + names.get((int) r[2]) + "\" [" + r[0] + ", " + r[1] + ") overlap");
            }
            prev = r;
        }
        return tensors;
    }

    private static void checkMetadata(MappedFile file, JsonNode v) {
        if (!v.isObject()) throw fail(file, "\"__metadata__\" is not an object");
        for (Map.Entry<String, JsonNode> m : v.properties()) {
            if (!m.getValue().isTextual()) throw fail(file, "\"__metadata__\" value of \"" + m.getKey() + "\" is not a string");
        }
    }

    private static CheckpointException fail(MappedFile file, String problem) {
        return new CheckpointException(file.path(), "safetensors: " + problem);
    }
}
