package dev.autodir.backend.tensorrt;

import dev.autodir.backend.TensorSpec;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything that decides whether a serialized TensorRT engine (a plan) may be used for a compiled network; two keys
 * are equal exactly when a plan built for one is valid for the other. engines/README.md documents the format.
 *
 * <p>The key is written as {@link #canonical()} text, one {@code field: value} line per field in a fixed order; its
 * SHA-256 names the plan file ({@link #fileStem()}) and the text itself goes into the plan's sidecar manifest, which
 * {@link EngineCache} compares field by field before it loads a plan, so a stale or foreign plan is rebuilt, never
 * loaded.
 *
 * @param network           the network's name
 * @param graphHash         SHA-256 of the exported .onnx file: the graph (operations, shapes, the exporter's choices)
 *                          and whatever else the exporter writes there (small initializers, external-data offsets):
 *                          any byte that changes is a rebuild
 * @param weightsHash       the exporter's hash of the weights ({@code ExportedModel.weightsHash})
 * @param inputs            the I/O contract: inputs in order (names, dtypes, shapes)
 * @param outputs           outputs in order
 * @param profile           the optimisation profile, or null for static shapes
 * @param precision         the engine precision
 * @param optimizationLevel the builder optimisation level
 * @param workspaceBytes    the builder's workspace limit (it bounds the tactics the plan may contain)
 * @param tf32              whether float32 layers may use TF32
 * @param device            TensorRT / parser versions and the GPU
 */
public record EngineKey(String network, String graphHash, String weightsHash, List<TensorSpec> inputs, List<TensorSpec> outputs,
                        ShapeProfile profile, EnginePrecision precision, int optimizationLevel, long workspaceBytes, boolean tf32,
                        DeviceIdentity device) {
    /** Version of the key format: bump it when a field is added or its meaning changes (every cached plan is rebuilt). */
    public static final int FORMAT = 1;

    public EngineKey {
        if (network == null || !network.matches("[a-z][a-z0-9-]*")) throw new IllegalArgumentException("network name \"" + network + "\" is not [a-z][a-z0-9-]*");
        if (graphHash == null || graphHash.isBlank()) throw new IllegalArgumentException(network + ": no graph hash");
        if (weightsHash == null || weightsHash.isBlank()) throw new IllegalArgumentException(network + ": no weights hash");
        if (inputs == null || inputs.isEmpty()) throw new IllegalArgumentException(network + ": no inputs");
        if (outputs == null || outputs.isEmpty()) throw new IllegalArgumentException(network + ": no outputs");
        if (precision == null || device == null) throw new IllegalArgumentException(network + ": no precision or device");
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }

    /** The fields as ordered {@code name → value} text (what {@link #canonical()} and the sidecar hold). */
    public Map<String, String> fields() {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("key-format", String.valueOf(FORMAT));
        f.put("network", network);
        f.put("graph-sha256", graphHash);
        f.put("weights-hash", weightsHash);
        f.put("inputs", specs(inputs));
        f.put("outputs", specs(outputs));
        f.put("profile", profile == null ? "static" : profile.canonical());
        f.put("precision", precision.lower());
        f.put("optimization-level", String.valueOf(optimizationLevel));
        f.put("workspace-bytes", String.valueOf(workspaceBytes));
        f.put("tf32", String.valueOf(tf32));
        f.put("tensorrt", device.tensorrtVersion());
        f.put("onnx-parser", device.onnxParserVersion());
        f.put("gpu", device.gpuName());
        f.put("compute-capability", device.computeCapability());
        return f;
    }

    private static String specs(List<TensorSpec> specs) {
        List<String> s = new ArrayList<>();
        for (TensorSpec t : specs) s.add(t.describe());
        return String.join("; ", s);
    }

    /** "field: value" lines in a fixed order, newline-terminated. */
    public String canonical() {
        StringBuilder b = new StringBuilder();
        fields().forEach((k, v) -> b.append(k).append(": ").append(v).append('\n'));
        return b.toString();
    }

    /** SHA-256 (hex) of {@link #canonical()}. */
    public String id() { return sha256(canonical()); }

    /** "unet-0123456789abcdef": the network and the first 16 hex digits of {@link #id()}. */
    public String fileStem() { return network + "-" + id().substring(0, 16); }

    /**
     * The fields where {@code stored} (a sidecar's key fields) differs from this key, as "field: stored X, expected Y";
     * empty when they agree. A field missing from {@code stored} counts as differing.
     */
    public List<String> differences(Map<String, String> stored) {
        List<String> d = new ArrayList<>();
        Map<String, String> mine = fields();
        for (Map.Entry<String, String> e : mine.entrySet()) {
            String theirs = stored.get(e.getKey());
            if (!e.getValue().equals(theirs)) {
                d.add(e.getKey() + ": stored " + (theirs == null ? "(missing)" : "\"" + theirs + "\"") + ", expected \"" + e.getValue() + "\"");
            }
        }
        for (String k : stored.keySet()) if (!mine.containsKey(k)) d.add(k + ": stored but not a key field of format " + FORMAT);
        return d;
    }

    static String sha256(String text) {
        return HexFormat.of().formatHex(digest().digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this JVM", e);
        }
    }
}
