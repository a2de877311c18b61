package dev.autodir.backend.tensorrt;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The folder of built engines. Per engine, a plan {@code <network>-<key id>.plan} and its sidecar manifest
 * {@code <network>-<key id>.json} (the key's fields, the plan's size and SHA-256, when and by what it was built); a
 * TensorRT timing cache per TensorRT version and GPU; the ONNX exports the engines were built from under
 * {@code onnx/}. engines/README.md documents the layout.
 *
 * <p>{@link #lookup} returns a plan only when its sidecar exists, carries exactly the expected key and describes the
 * plan file byte for byte; anything else (no sidecar, a key from another TensorRT, GPU, precision, weights or
 * graph, a truncated or replaced plan) is a miss with the reason, and the caller rebuilds. {@link #store} writes the
 * plan, then the sidecar, each atomically: a crash between them leaves a plan without sidecar, which is a miss.
 */
public final class EngineCache {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path directory;

    public EngineCache(Path directory) {
        if (directory == null) throw new IllegalArgumentException("engine cache: no directory");
        this.directory = directory.toAbsolutePath().normalize();
    }

    public Path directory() { return directory; }

    public Path planFile(EngineKey key) { return directory.resolve(key.fileStem() + ".plan"); }

    public Path sidecarFile(EngineKey key) { return directory.resolve(key.fileStem() + ".json"); }

    /** The timing cache shared by every build with this TensorRT version on this GPU model. */
    public Path timingCacheFile(DeviceIdentity device) { return directory.resolve("timing-" + device.fileTag() + ".cache"); }

    /** Where the ONNX exports the engines are built from are kept (an onnxruntime {@code ExportCache} folder). */
    public Path exportsDirectory() { return directory.resolve("onnx"); }

    /** A hit (the plan to load) or a miss with the reason. */
    public record Lookup(Path plan, String missReason) {
        public boolean hit() { return plan != null; }
    }

    public Lookup lookup(EngineKey expected) {
        Path plan = planFile(expected), sidecar = sidecarFile(expected);
        if (!Files.isRegularFile(sidecar)) {
            return miss(Files.exists(plan) ? "plan " + plan.getFileName() + " has no sidecar manifest (an interrupted build or a foreign file)"
                    : "no engine built yet");
        }
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(sidecar, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return miss("sidecar " + sidecar.getFileName() + " is unreadable (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        JsonNode key = root == null ? null : root.get("key");
        JsonNode planInfo = root == null ? null : root.get("plan");
        if (key == null || !key.isObject() || planInfo == null || !planInfo.isObject()) {
            return miss("sidecar " + sidecar.getFileName() + " has no key or plan section");
        }
        Map<String, String> stored = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = key.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            stored.put(e.getKey(), e.getValue().asText());
        }
        List<String> diff = expected.differences(stored);
        if (!diff.isEmpty()) {
            return miss("stale engine: " + String.join("; ", diff.subList(0, Math.min(3, diff.size())))
                    + (diff.size() > 3 ? " (and " + (diff.size() - 3) + " more)" : ""));
        }
        if (!Files.isRegularFile(plan)) return miss("the sidecar names " + plan.getFileName() + ", which is missing");
        long bytes = planInfo.path("bytes").asLong(-1);
        String sha = planInfo.path("sha256").asText("");
        long actual;
        try {
            actual = Files.size(plan);
        } catch (IOException e) {
            return miss(plan.getFileName() + ": " + e.getMessage());
        }
        if (actual != bytes) return miss(plan.getFileName() + " has " + actual + " bytes, the sidecar says " + bytes);
        String actualSha = CacheFiles.sha256(plan);
        if (!actualSha.equals(sha)) return miss(plan.getFileName() + " does not match the sidecar's SHA-256 (a replaced or damaged plan)");
        return new Lookup(plan, null);
    }

    private static Lookup miss(String why) { return new Lookup(null, why); }

    /**
     * Writes a plan and then its sidecar. {@code plan} writes the plan's bytes to the channel it is given.
     *
     * @return the plan file
     */
    Path store(EngineKey key, CacheFiles.Writer plan) {
        Path planPath = planFile(key);
        CacheFiles.writeAtomically(planPath, plan);
        long bytes;
        try {
            bytes = Files.size(planPath);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(planPath + ": " + e, e);
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("what", "TensorRT engine sidecar of autodir-engine (engines/README.md)");
        ObjectNode k = root.putObject("key");
        key.fields().forEach(k::put);
        ObjectNode p = root.putObject("plan");
        p.put("file", planPath.getFileName().toString());
        p.put("bytes", bytes);
        p.put("sha256", CacheFiles.sha256(planPath));
        root.put("key-id", key.id());
        root.put("built", Instant.now().toString());
        try {
            CacheFiles.writeBytes(sidecarFile(key), JSON.writeValueAsBytes(root));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the sidecar of " + planPath.getFileName() + ": " + e.getMessage(), e);
        }
        return planPath;
    }
}
