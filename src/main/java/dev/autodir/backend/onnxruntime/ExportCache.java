package dev.autodir.backend.onnxruntime;

import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.onnx.ExportedModel;
import dev.autodir.backend.onnx.OnnxExporter;
import dev.autodir.backend.record.Graph;
import dev.autodir.io.WeightStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * ONNX exports of recorded networks, one folder per network, input shapes, graph structure, weights hash and exporter
 * version
 * ({@code ROOT/unet-<16 hex digits>/unet.onnx ...}). An export whose manifest matches is reused (across runs when the
 * folder is the user's); anything else (missing, partial, another version) is exported again. Without a folder the
 * cache is a temporary one, deleted on {@link #close()}.
 *
 * <p>The key needs the weights' content hash, which means reading every weight once; it is remembered per store and
 * weight list for the life of the cache, so compiling a network at a second shape does not read the weights again.
 *
 * <p>Public because the tensorrt backend builds its engines from the same exports (its engine cache keeps them under
 * {@code onnx/}).
 */
public final class ExportCache implements AutoCloseable {
    private final Path root;
    private final boolean temporary;
    private final Map<WeightStore, Map<List<String>, String>> hashes = new IdentityHashMap<>();

    /** One export as the cache found or made it. */
    public record Entry(ExportedModel model, boolean reused) { }

    private final long attentionBlockBytes;

    /** In {@code folder} (null: a temporary one), attention blocked as {@link OnnxExporter#attentionBlockBytes()} says. */
    public ExportCache(Path folder) { this(folder, OnnxExporter.attentionBlockBytes()); }

    /** As {@link #ExportCache(Path)} with the exports' attention block budget ({@link OnnxExporter#WHOLE_ATTENTION}: none). */
    public ExportCache(Path folder, long attentionBlockBytes) {
        this.attentionBlockBytes = attentionBlockBytes;
        try {
            if (folder == null) {
                root = Files.createTempDirectory("autodir-onnx-");
                temporary = true;
            } else {
                root = Files.createDirectories(folder.toAbsolutePath().normalize());
                temporary = false;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("onnxruntime: cannot create the export cache " + (folder == null ? "in the temporary folder" : folder) + ": " + e, e);
        }
    }

    public Path root() { return root; }

    /** The attention score budget of the exports it writes ({@link OnnxExporter#WHOLE_ATTENTION}: none). */
    public long attentionBlockBytes() { return attentionBlockBytes; }

    boolean temporary() { return temporary; }

    public synchronized Entry get(Graph graph) { return get(graph, null); }

    /** As {@link #get(Graph)} for a quantized export ({@code plan} null: float32); the plan is part of the key. */
    public synchronized Entry get(Graph graph, dev.autodir.backend.onnx.QuantPlan plan) {
        String name = graph.network().name();
        String hash = hash(graph);
        String key = "exporter " + OnnxExporter.VERSION + "; opset " + OnnxExporter.OPSET + "; network " + name + "; inputs "
                + graph.inputSpecs() + "; graph " + OnnxExporter.graphHash(graph) + "; weights " + hash
                + (plan == null ? "" : "; quantization " + plan.key())
                + "; attention blocks " + attentionBlockBytes;
        Path dir = root.resolve(name + (plan == null ? "" : "-" + plan.format().label()) + "-" + sha256(key).substring(0, 16));
        Path manifest = OnnxExporter.manifestPath(dir, name);
        if (Files.exists(manifest)) {
            try {
                ExportedModel m = OnnxExporter.read(manifest);
                String precision = plan == null ? OnnxExporter.PRECISION : plan.precision();
                if (m.weightsHash().equals(hash) && m.precision().equals(precision) && sameSpecs(m.inputs(), graph.inputSpecs()) && sameSpecs(m.outputs(), graph.outputSpecs())) {
                    return new Entry(m, true);
                }
            } catch (IllegalArgumentException stale) {
                // partial, foreign or of another exporter version: written again below
            }
        }
        ExportedModel m = OnnxExporter.export(graph, dir, true, plan, attentionBlockBytes);
        if (!m.weightsHash().equals(hash)) {
            throw new IllegalStateException(graph.store().path() + ": the weights changed while " + name + " was exported");
        }
        return new Entry(m, false);
    }

    private String hash(Graph graph) {
        List<String> keys = new ArrayList<>(graph.weights().keySet());
        return hashes.computeIfAbsent(graph.store(), s -> new HashMap<>()).computeIfAbsent(keys, k -> OnnxExporter.weightsHash(graph));
    }

    private static boolean sameSpecs(List<TensorSpec> a, List<TensorSpec> b) { return a.equals(b); }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Deletes a temporary cache with everything in it; a user's folder stays. */
    @Override public synchronized void close() {
        if (!temporary) return;
        try {
            if (!Files.exists(root)) return;
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                    Files.delete(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("onnxruntime: cannot delete the temporary export cache " + root + ": " + e, e);
        }
    }
}
