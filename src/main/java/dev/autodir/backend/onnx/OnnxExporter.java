package dev.autodir.backend.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.backend.DataType;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.onnx.proto.OnnxProto.GraphProto;
import dev.autodir.backend.onnx.proto.OnnxProto.ModelProto;
import dev.autodir.backend.onnx.proto.OnnxProto.OperatorSetIdProto;
import dev.autodir.backend.onnx.proto.OnnxProto.StringStringEntryProto;
import dev.autodir.backend.onnx.proto.OnnxProto.TensorProto;
import dev.autodir.backend.onnx.proto.OnnxProto.TensorShapeProto;
import dev.autodir.backend.onnx.proto.OnnxProto.TypeProto;
import dev.autodir.backend.onnx.proto.OnnxProto.ValueInfoProto;
import dev.autodir.backend.record.Graph;
import dev.autodir.io.FilePublish;
import dev.autodir.io.WeightStore;
import dev.autodir.quant.QuantFormat;
import dev.autodir.quant.WeightQuantizer;
import dev.autodir.tensor.FloatTensor;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Writes one recorded network ({@link Graph}) as an ONNX model: {@code NAME.onnx} (the graph, opset {@link #OPSET},
 * and the small tensors its node patterns need), {@code NAME.onnx.data} (every weight, float32 little-endian, named by
 * its checkpoint key, in the ONNX external-data format, since the UNet's 3.4 GB are over protobuf's 2 GB limit) and
 * {@code NAME.json} (the manifest: inputs, outputs, the weights' hash, the exporter version).
 *
 * <p>Weights are streamed: one checkpoint tensor is read, written and hashed at a time, so memory stays at the largest
 * tensor whatever the network's size. The hash (SHA-256 over each weight's name, shape and float32 bytes, in the
 * graph's order) is computed on the way and is part of every engine cache key. Files go to hidden temporary names and
 * get their final names only when complete (data, then model, then manifest: a manifest means a whole export); an
 * existing export is never replaced unless {@code overwrite} is given.
 */
public final class OnnxExporter {
    /** Bumped whenever the files it writes for the same graph change: a cached export of another version is stale. */
    public static final String VERSION = "2";
    public static final int OPSET = 17;
    /**
     * Above this size, the score matrix [B, H, rows, Nk] of one attention is exported in blocks of query rows: a
     * runtime that materialises softmax(q·kᵀ) whole (ONNX Runtime's CPU provider does) would otherwise need
     * B·H·Nq·Nk·4 bytes at once — 34 GB for the tiny test model's 65,536 latent tokens at 512², 17 GB for the official
     * UNet's 16,384 at 1024². Each row's softmax is independent, so the blocks compute the same values. 1 GiB keeps the
     * official UNet's 512² attention (512 MiB of scores per image) whole: split at 256 MiB, ONNX Runtime ran that UNet
     * 13% slower (BENCHMARKS.md). The default of
     * {@link #export(Graph, Path, boolean, QuantPlan)} (ONNX Runtime, export-onnx); {@code
     * -Dautodir.onnx.attentionBlockBytes=N} changes it, 0 exports every attention whole.
     */
    public static final long ATTENTION_BLOCK_BYTES = 1L << 30;
    public static final String ATTENTION_BLOCK_PROPERTY = "autodir.onnx.attentionBlockBytes";
    /** Every attention whole: for TensorRT, which fuses the pattern into its own attention kernels. */
    public static final long WHOLE_ATTENTION = Long.MAX_VALUE;

    /** The score-block budget in bytes: {@value #ATTENTION_BLOCK_PROPERTY} (0: {@link #WHOLE_ATTENTION}), else {@link #ATTENTION_BLOCK_BYTES}. */
    public static long attentionBlockBytes() {
        String v = System.getProperty(ATTENTION_BLOCK_PROPERTY);
        if (v == null || v.isBlank()) return ATTENTION_BLOCK_BYTES;
        try {
            long n = Long.parseLong(v.trim());
            if (n < 0) throw new NumberFormatException();
            return n == 0 ? WHOLE_ATTENTION : n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + ATTENTION_BLOCK_PROPERTY + "=" + v + ": expected a number of bytes (0: no blocks)");
        }
    }

    /** The IR version that goes with opset 17. */
    public static final int IR_VERSION = 8;
    public static final String PRECISION = "fp32";
    public static final String FORMAT = "autodir-onnx-export";
    /**
     * A weight of {@link #ALIGN_FROM} bytes or more starts at a multiple of this in the data file, so readers can map it
     * (ONNX's own tools align such tensors to 64 KiB, the largest allocation granularity); smaller ones are packed.
     */
    static final int ALIGNMENT = 64 * 1024;
    static final int ALIGN_FROM = 1 << 20;

    private static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private OnnxExporter() { }

    /** Exports {@code graph} into {@code directory} (created if missing); refuses to replace an existing export. */
    public static ExportedModel export(Graph graph, Path directory) { return export(graph, directory, false); }

    /** As {@link #export(Graph, Path)}; {@code overwrite} replaces an existing export of the same network. */
    public static ExportedModel export(Graph graph, Path directory, boolean overwrite) { return export(graph, directory, overwrite, null); }

    /**
     * As {@link #export(Graph, Path, boolean)}, with explicit quantization when {@code plan} is not null: Q/DQ pairs on
     * the inputs of the calibrated layers and their weights stored quantized ({@link QuantPlan}).
     */
    public static ExportedModel export(Graph graph, Path directory, boolean overwrite, QuantPlan plan) {
        return export(graph, directory, overwrite, plan, attentionBlockBytes());
    }

    /**
     * As {@link #export(Graph, Path, boolean, QuantPlan)} with the attention score budget {@code attentionBlockBytes}
     * ({@link #ATTENTION_BLOCK_BYTES}; {@link #WHOLE_ATTENTION} for none).
     */
    public static ExportedModel export(Graph graph, Path directory, boolean overwrite, QuantPlan plan, long attentionBlockBytes) {
        if (attentionBlockBytes < 1) throw new IllegalArgumentException("attention block budget " + attentionBlockBytes + " bytes");
        String name = graph.network().name();
        if (!FILE_NAME.matcher(name).matches()) throw new IllegalArgumentException("network name \"" + name + "\" cannot name a file");
        Path dir = directory.toAbsolutePath().normalize();
        Path model = dir.resolve(name + ".onnx"), data = dir.resolve(name + ".onnx.data"), manifest = manifestPath(dir, name);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot create the export directory: " + e, e);
        }
        if (!overwrite) for (Path p : List.of(model, data, manifest)) if (Files.exists(p)) throw FilePublish.exists(p);

        OnnxLowering lowered = OnnxLowering.lower(graph, plan, attentionBlockBytes);
        boolean hasWeights = !graph.weights().isEmpty();
        Path tempData = FilePublish.temporaryBeside(data), tempModel = FilePublish.temporaryBeside(model);
        Path tempManifest = FilePublish.temporaryBeside(manifest);
        try {
            Weights w = hasWeights ? Weights.write(graph, tempData, data.getFileName().toString(), plan) : Weights.hashOnly(graph);
            ModelProto proto = model(graph, lowered, w, plan);
            long modelBytes = write(tempModel, proto::writeTo);
            ExportedModel result = new ExportedModel(name, model, hasWeights ? data : null, manifest, w.hash,
                    graph.inputSpecs(), graph.outputSpecs(), plan == null ? PRECISION : plan.precision());
            ObjectNode json = manifestJson(result, graph, lowered, modelBytes, hasWeights ? Files.size(tempData) : 0, w);
            if (plan != null) {
                json.put("opset", plan.opset());
                json.put("calibration", plan.calibration().hash());
            }
            byte[] manifestBytes = JSON.writeValueAsBytes(json);
            write(tempManifest, out -> out.write(manifestBytes));
            if (hasWeights) FilePublish.publish(tempData, data, overwrite);
            else if (overwrite) Files.deleteIfExists(data);             // a stale data file of an earlier export
            FilePublish.publish(tempModel, model, overwrite);
            FilePublish.publish(tempManifest, manifest, overwrite);
            return result;
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write the ONNX export of " + name + ": " + e, e);
        } finally {
            FilePublish.deleteQuietly(tempData);
            FilePublish.deleteQuietly(tempModel);
            FilePublish.deleteQuietly(tempManifest);
        }
    }

    /** The content hash of the weights {@code graph} reads (hex SHA-256), as an export computes it; writes nothing. */
    public static String weightsHash(Graph graph) { return Weights.hashOnly(graph).hash; }

    /**
     * A hash of the graph's structure (hex SHA-256): its inputs, every node (operation, operands, attributes, result
     * type and shape), its constants' data, the weights' names and shapes, its outputs. Two networks with the same name
     * and inputs but other heads, scales or masks differ here; the weights' values do not count (see {@link #weightsHash}).
     */
    public static String graphHash(Graph graph) {
        StringBuilder b = new StringBuilder(graph.network().name()).append('\n').append(graph.inputSpecs()).append('\n');
        graph.weights().forEach((k, v) -> b.append("w ").append(v.id()).append(' ').append(k).append(' ').append(Arrays.toString(v.shape())).append('\n'));
        for (Graph.Node n : graph.nodes()) {
            b.append(n.index()).append(' ').append(n.op());
            for (Graph.Value v : n.inputs()) b.append(' ').append(v == null ? "-" : Integer.toString(v.id()));
            n.attributes().forEach((k, v) -> b.append(' ').append(k).append('=').append(attributeText(v)));
            b.append(" -> ").append(n.output().id()).append(' ').append(n.output().dataType().label()).append(Arrays.toString(n.output().shape())).append('\n');
        }
        graph.outputs().forEach((k, v) -> b.append("out ").append(k).append(' ').append(v.id()).append('\n'));
        MessageDigest d = Weights.sha256();
        d.update(b.toString().getBytes(StandardCharsets.UTF_8));
        for (Graph.Value c : graph.constants()) {
            d.update((c.id() + " " + c.dataType().label() + Arrays.toString(c.shape())).getBytes(StandardCharsets.UTF_8));
            if (c.constantData() instanceof FloatTensor f) for (float v : f.data()) d.update(intBytes(Float.floatToRawIntBits(v)));
            else if (c.constantData() instanceof dev.autodir.tensor.IntTensor it) for (int v : it.data()) d.update(intBytes(v));
        }
        return HexFormat.of().formatHex(d.digest());
    }

    private static String attributeText(Object v) {
        if (v instanceof int[] a) return Arrays.toString(a);
        if (v instanceof float[] a) {
            StringBuilder s = new StringBuilder("[");
            for (float f : a) s.append(Integer.toHexString(Float.floatToRawIntBits(f))).append(',');
            return s.append(']').toString();
        }
        if (v instanceof Float f) return Integer.toHexString(Float.floatToRawIntBits(f));    // exact, not a rounded decimal
        return String.valueOf(v);
    }

    private static byte[] intBytes(int v) { return new byte[] {(byte) v, (byte) (v >> 8), (byte) (v >> 16), (byte) (v >> 24)}; }

    /** Where the manifest of network {@code name} lies in an export directory. */
    public static Path manifestPath(Path directory, String name) { return directory.resolve(name + ".json"); }

    /**
     * The export a manifest describes, checked: the format and exporter version are this exporter's, the files exist
     * with the sizes the manifest recorded.
     *
     * @throws IllegalArgumentException naming what does not match (a partial, foreign or stale export)
     */
    public static ExportedModel read(Path manifest) {
        JsonNode m;
        try {
            m = JSON.readTree(manifest.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(manifest + ": not a readable export manifest: " + e.getMessage(), e);
        }
        if (!FORMAT.equals(m.path("format").asText())) throw new IllegalArgumentException(manifest + ": not an " + FORMAT + " manifest");
        if (!VERSION.equals(m.path("exporterVersion").asText())) {
            throw new IllegalArgumentException(manifest + ": written by exporter version " + m.path("exporterVersion").asText() + ", this is " + VERSION);
        }
        Path dir = manifest.toAbsolutePath().getParent();
        Path model = dir.resolve(m.path("model").asText());
        checkSize(manifest, model, m.path("modelBytes").asLong(-1));
        Path data = null;
        if (!m.path("externalData").isNull() && m.has("externalData")) {
            data = dir.resolve(m.path("externalData").asText());
            checkSize(manifest, data, m.path("externalDataBytes").asLong(-1));
        }
        return new ExportedModel(m.path("network").asText(), model, data, manifest.toAbsolutePath(), m.path("weightsHash").asText(),
                specs(m.path("inputs")), specs(m.path("outputs")), m.path("precision").asText());
    }

    private static void checkSize(Path manifest, Path file, long expected) {
        try {
            long size = Files.size(file);
            if (size != expected) throw new IllegalArgumentException(manifest + ": " + file.getFileName() + " has " + size + " bytes, the manifest says " + expected);
        } catch (IOException e) {
            throw new IllegalArgumentException(manifest + ": " + file.getFileName() + " is missing or unreadable", e);
        }
    }

    // ---- the model --------------------------------------------------------------------------------------------------

    private static ModelProto model(Graph graph, OnnxLowering lowered, Weights w, QuantPlan plan) {
        GraphProto.Builder g = GraphProto.newBuilder().setName(graph.network().name()).setDocString(graph.network().describe());
        for (TensorSpec s : graph.inputSpecs()) g.addInput(valueInfo(s));
        for (TensorSpec s : graph.outputSpecs()) g.addOutput(valueInfo(s));
        g.addAllInitializer(w.tensors);
        g.addAllInitializer(lowered.initializers());
        g.addAllNode(lowered.nodes());
        return ModelProto.newBuilder()
                .setIrVersion(plan == null ? IR_VERSION : plan.irVersion())
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(plan == null ? OPSET : plan.opset()))
                .setProducerName("autodir-engine")
                .setProducerVersion("onnx-exporter-" + VERSION)
                .setGraph(g)
                .addMetadataProps(entry("weights_sha256", w.hash))
                .addMetadataProps(entry("weights_source", graph.store().path().toString()))
                .build();
    }

    private static ValueInfoProto valueInfo(TensorSpec s) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (int d : s.shape()) shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        TypeProto.Tensor.Builder t = TypeProto.Tensor.newBuilder().setElemType(OnnxLowering.elementType(s.type())).setShape(shape);
        return ValueInfoProto.newBuilder().setName(s.name()).setType(TypeProto.newBuilder().setTensorType(t)).build();
    }

    private static StringStringEntryProto entry(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }

    private static ObjectNode manifestJson(ExportedModel e, Graph graph, OnnxLowering lowered, long modelBytes, long dataBytes, Weights w) {
        ObjectNode m = JSON.createObjectNode();
        m.put("format", FORMAT);
        m.put("exporterVersion", VERSION);
        m.put("network", e.network());
        m.put("description", graph.network().describe());
        m.put("opset", OPSET);
        m.put("irVersion", IR_VERSION);
        m.put("precision", e.precision());
        m.put("model", e.model().getFileName().toString());
        m.put("modelBytes", modelBytes);
        if (e.externalData() == null) m.putNull("externalData");
        else m.put("externalData", e.externalData().getFileName().toString());
        m.put("externalDataBytes", dataBytes);
        m.put("graphHash", graphHash(graph));
        m.put("weightsHash", e.weightsHash());
        m.put("weightsHashAlgorithm", "SHA-256 over each weight's name, shape and float32 little-endian bytes, in graph order");
        m.put("weights", graph.weights().size());
        m.put("weightBytes", w.bytes);
        m.put("weightsSource", graph.store().path().toString());
        m.put("graphNodes", graph.nodes().size());
        m.put("onnxNodes", lowered.nodes().size());
        m.set("inputs", specsJson(e.inputs()));
        m.set("outputs", specsJson(e.outputs()));
        return m;
    }

    private static ArrayNode specsJson(List<TensorSpec> specs) {
        ArrayNode a = JSON.createArrayNode();
        for (TensorSpec s : specs) {
            ObjectNode o = a.addObject();
            o.put("name", s.name());
            o.put("dtype", s.type().label());
            ArrayNode shape = o.putArray("shape");
            for (int d : s.shape()) shape.add(d);
        }
        return a;
    }

    private static List<TensorSpec> specs(JsonNode a) {
        List<TensorSpec> out = new ArrayList<>();
        for (JsonNode o : a) {
            int[] shape = new int[o.path("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = o.path("shape").get(i).asInt();
            out.add(new TensorSpec(o.path("name").asText(), DataType.parse(o.path("dtype").asText()), shape));
        }
        return out;
    }

    private interface Body { void write(OutputStream out) throws IOException; }

    /** Writes a new file through {@code body}, synced; returns its size. */
    private static long write(Path file, Body body) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            OutputStream out = new java.io.BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
            body.write(out);
            out.flush();
            ch.force(true);
            return ch.size();
        }
    }

    // ---- the weights --------------------------------------------------------------------------------------------------

    /** The weights' initializers (external data), their hash and byte count. */
    private record Weights(List<TensorProto> tensors, String hash, long bytes) {
        private static final int CHUNK = 1 << 20;                      // floats per write

        static Weights hashOnly(Graph graph) {
            try {
                return stream(graph, null, null, null);
            } catch (IOException e) {
                throw new UncheckedIOException(e);                    // no file is written
            }
        }

        static Weights write(Graph graph, Path file, String location, QuantPlan plan) throws IOException {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                Weights w = stream(graph, ch, location, plan);
                ch.force(true);
                return w;
            }
        }

        /** Reads each weight once, hashes it and, with a channel, appends it (aligned) and makes its initializer. */
        private static Weights stream(Graph graph, FileChannel ch, String location, QuantPlan plan) throws IOException {
            MessageDigest digest = sha256();
            WeightStore store = graph.store();
            List<TensorProto> tensors = new ArrayList<>();
            ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            long offset = 0, total = 0;
            for (Map.Entry<String, Graph.Value> e : graph.weights().entrySet()) {
                String key = e.getKey();
                FloatTensor t = store.readFloat(key);
                if (!Arrays.equals(t.shape(), e.getValue().shape())) {
                    throw new IllegalArgumentException(store.path() + ": weight " + key + " read as " + Arrays.toString(t.shape())
                            + ", recorded as " + Arrays.toString(e.getValue().shape()));
                }
                digest.update((key + "\0" + Arrays.toString(t.shape()) + "\0").getBytes(StandardCharsets.UTF_8));
                if (ch != null && (long) t.numel() * Float.BYTES >= ALIGN_FROM && offset % ALIGNMENT != 0) {
                    long pad = ALIGNMENT - offset % ALIGNMENT;
                    ch.write(ByteBuffer.allocate((int) pad), offset);
                    offset += pad;
                }
                long start = offset;
                float[] d = t.data();
                if (plan != null && ch != null && plan.quantizes(key)) {
                    for (int i = 0; i < d.length; i += CHUNK) {                       // the hash is of the float32 weights
                        int n = Math.min(CHUNK, d.length - i);
                        buf.clear();
                        buf.asFloatBuffer().put(d, i, n);
                        buf.limit(n * Float.BYTES);
                        digest.update(buf);
                    }
                    byte[] q = quantized(t, plan.smoothQuant(key), plan, tensors, key);
                    ByteBuffer qb = ByteBuffer.wrap(q);
                    while (qb.hasRemaining()) offset += ch.write(qb, offset);
                    total += q.length;
                    TensorProto.Builder p = TensorProto.newBuilder().setName(key).setDataType(plan.elementType())
                            .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                            .addExternalData(entry("location", location))
                            .addExternalData(entry("offset", Long.toString(start)))
                            .addExternalData(entry("length", Long.toString((long) q.length)));
                    for (int sd : t.shape()) p.addDims(sd);
                    tensors.add(p.build());
                    continue;
                }
                for (int i = 0; i < d.length; i += CHUNK) {
                    int n = Math.min(CHUNK, d.length - i);
                    buf.clear();
                    buf.asFloatBuffer().put(d, i, n);
                    buf.limit(n * Float.BYTES);
                    digest.update(buf);
                    if (ch != null) {
                        buf.flip();
                        buf.limit(n * Float.BYTES);
                        while (buf.hasRemaining()) offset += ch.write(buf, offset);
                    }
                }
                long length = (long) d.length * Float.BYTES;
                total += length;
                if (ch != null) {
                    TensorProto.Builder p = TensorProto.newBuilder().setName(key).setDataType(TensorProto.DataType.FLOAT_VALUE)
                            .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                            .addExternalData(entry("location", location))
                            .addExternalData(entry("offset", Long.toString(start)))
                            .addExternalData(entry("length", Long.toString(length)));
                    for (int s : t.shape()) p.addDims(s);
                    tensors.add(p.build());
                }
            }
            return new Weights(tensors, HexFormat.of().formatHex(digest.digest()), total);
        }

        /**
         * The weight quantized per output channel (after SmoothQuant's column scaling where given), as the format's
         * bytes; its scales and zero points go into {@code tensors} as small inline initializers.
         */
        private static byte[] quantized(FloatTensor w, double[] smooth, QuantPlan plan, List<TensorProto> tensors, String key) {
            WeightQuantizer.Quantized q = WeightQuantizer.quantize(w, smooth, plan.format());
            int c = q.scales().length;
            ByteBuffer sb = ByteBuffer.allocate(4 * c).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : q.scales()) sb.putFloat(f);
            tensors.add(TensorProto.newBuilder().setName(QuantPlan.scaleName(key)).setDataType(TensorProto.DataType.FLOAT_VALUE)
                    .addDims(c).setRawData(com.google.protobuf.ByteString.copyFrom(sb.array())).build());
            tensors.add(TensorProto.newBuilder().setName(QuantPlan.zeroName(key)).setDataType(plan.elementType())
                    .addDims(c).setRawData(com.google.protobuf.ByteString.copyFrom(new byte[c])).build());
            return plan.format() == QuantFormat.INT8 ? q.int8() : q.fp8();
        }

        static MessageDigest sha256() {
            try {
                return MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
            }
        }
    }
}
