package dev.autodir.backend.tensorrt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.backend.DataType;
import dev.autodir.backend.Network;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.onnx.ExportedModel;
import dev.autodir.backend.record.Graph;
import dev.autodir.io.TensorInfo;
import dev.autodir.io.WeightStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The ONNX exports engines are built from, kept in the engine cache ({@code onnx/<network>-<id>/}) so that a cached
 * engine is found without exporting again: the engine key needs the export's graph and weights hashes, and exporting
 * the fp32 UNet writes 3.4 GB. An export is reused while its source is unchanged: the same network and input shapes,
 * the same exporter version, and the same weights (the checkpoint's path, size and modification time, and its
 * tensor names, dtypes and shapes); otherwise it is exported again into a fresh folder that replaces the old one.
 */
public final class OnnxExports {
    /** The ONNX exporter: {@code dev.autodir.backend.onnx.OnnxExporter.export(graph, directory)} in production. */
    public interface Exporter {
        ExportedModel export(Graph graph, Path directory);

        /** Identifies the exporter's output format: a new version re-exports (and so rebuilds) every engine. */
        String version();
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    static final String INDEX = "autodir-export.json";

    private final Path root;
    private final Exporter exporter;

    public OnnxExports(Path root, Exporter exporter) {
        this.root = root.toAbsolutePath().normalize();
        this.exporter = exporter;
    }

    /** The identity of a network's source: network, shapes, exporter version and the weights (see the class comment). */
    public String sourceIdentity(Network network) {
        return "network: " + network.describe() + "\nexporter: " + exporter.version() + "\nweights: " + weightsIdentity(network.weights()) + "\n";
    }

    /** Path, size and modification time of a checkpoint file, and a digest of its tensor names, dtypes and shapes. */
    static String weightsIdentity(WeightStore store) {
        StringBuilder b = new StringBuilder(String.valueOf(store.path()));
        Path p = store.path();
        try {
            if (p != null && Files.isRegularFile(p)) {
                b.append(" size ").append(Files.size(p)).append(" modified ").append(Files.getLastModifiedTime(p).toMillis());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(p + ": " + e, e);
        }
        StringBuilder tensors = new StringBuilder();
        for (String k : store.keys()) {
            TensorInfo t = store.info(k);
            tensors.append(k).append(' ').append(t.dtype()).append(Arrays.toString(t.shape())).append('\n');
        }
        return b.append(" tensors ").append(EngineKey.sha256(tensors.toString()).substring(0, 16)).toString();
    }

    /** The export folder of {@code network}'s current source. */
    public Path directoryOf(Network network) {
        return root.resolve(network.name() + "-" + EngineKey.sha256(sourceIdentity(network)).substring(0, 16));
    }

    /** The reusable export of {@code network}, or a new one ({@code fresh}: export even when one is reusable). */
    public ExportedModel exportOrReuse(Network network, boolean fresh) {
        String identity = sourceIdentity(network);
        Path dir = directoryOf(network);
        if (!fresh) {
            ExportedModel kept = reusable(dir, identity);
            if (kept != null) return kept;
        }
        Path temp = root.resolve("." + dir.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            Files.createDirectories(temp);
            ExportedModel m = exporter.export(Graph.record(network), temp);
            if (m == null) throw new IllegalStateException(network.name() + ": the ONNX exporter returned nothing");
            for (Path f : new Path[] {m.model(), m.externalData(), m.manifest()}) {
                if (f != null && !f.toAbsolutePath().normalize().startsWith(temp)) {
                    throw new IllegalStateException(network.name() + ": the exporter wrote " + f + " outside its folder " + temp);
                }
            }
            writeIndex(temp, identity, m);
            deleteTree(dir);
            Files.move(temp, dir, StandardCopyOption.ATOMIC_MOVE);
            ExportedModel moved = reusable(dir, identity);
            if (moved == null) throw new IllegalStateException(network.name() + ": the export in " + dir + " is incomplete after writing it");
            return moved;
        } catch (IOException e) {
            throw new UncheckedIOException(network.name() + ": cannot keep the ONNX export in " + dir + ": " + e, e);
        } finally {
            deleteTree(temp);
        }
    }

    private static void writeIndex(Path dir, String identity, ExportedModel m) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("source", identity);
        ObjectNode e = root.putObject("exported");
        e.put("network", m.network());
        e.put("model", relative(dir, m.model()));
        e.put("externalData", m.externalData() == null ? null : relative(dir, m.externalData()));
        e.put("manifest", m.manifest() == null ? null : relative(dir, m.manifest()));
        e.put("weightsHash", m.weightsHash());
        e.put("precision", m.precision());
        specs(e.putArray("inputs"), m.inputs());
        specs(e.putArray("outputs"), m.outputs());
        ObjectNode sizes = root.putObject("sizes");
        for (Path f : new Path[] {m.model(), m.externalData()}) if (f != null) sizes.put(relative(dir, f), Files.size(f));
        CacheFiles.writeBytes(dir.resolve(INDEX), JSON.writeValueAsBytes(root));
    }

    private static String relative(Path dir, Path f) {
        return dir.relativize(f.toAbsolutePath().normalize()).toString();
    }

    private static void specs(ArrayNode a, List<TensorSpec> specs) {
        for (TensorSpec s : specs) {
            ObjectNode o = a.addObject();
            o.put("name", s.name());
            o.put("type", s.type().label());
            ArrayNode d = o.putArray("shape");
            for (int x : s.shape()) d.add(x);
        }
    }

    /** The export in {@code dir} if its index matches {@code identity} and its files are all there at their sizes. */
    static ExportedModel reusable(Path dir, String identity) {
        Path index = dir.resolve(INDEX);
        if (!Files.isRegularFile(index)) return null;
        try {
            JsonNode root = JSON.readTree(Files.readString(index, StandardCharsets.UTF_8));
            if (!identity.equals(root.path("source").asText(null))) return null;
            JsonNode sizes = root.path("sizes");
            for (var it = sizes.fields(); it.hasNext(); ) {
                var e = it.next();
                Path f = dir.resolve(e.getKey());
                if (!Files.isRegularFile(f) || Files.size(f) != e.getValue().asLong(-1)) return null;
            }
            JsonNode e = root.path("exported");
            return new ExportedModel(e.path("network").asText(), dir.resolve(e.path("model").asText()), file(dir, e.get("externalData")),
                    file(dir, e.get("manifest")), e.path("weightsHash").asText(), specs(e.path("inputs")), specs(e.path("outputs")),
                    e.path("precision").asText());
        } catch (IOException | RuntimeException ex) {
            return null;   // an unreadable index is not reusable: the caller exports again
        }
    }

    private static Path file(Path dir, JsonNode n) {
        return n == null || n.isNull() ? null : dir.resolve(n.asText());
    }

    private static List<TensorSpec> specs(JsonNode a) {
        List<TensorSpec> out = new ArrayList<>();
        for (JsonNode o : a) {
            int[] shape = new int[o.path("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = o.path("shape").get(i).asInt();
            out.add(new TensorSpec(o.path("name").asText(), DataType.parse(o.path("type").asText()), shape));
        }
        return out;
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir + ": " + e, e);
        }
    }
}
