package dev.autodir.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A calibration: per quantizable layer (keyed by its weight's checkpoint key) the range of its input activation
 * (max and a percentile of |x|, per tensor) and, for linear layers, the per-input-channel maxima and the SmoothQuant
 * factors; plus what it was made from (the weights' fingerprint, the images and their hashes, the settings and the
 * exclusions). One calibration serves every engine: the QDQ export, the fake-quantized cpu reference and TensorRT.
 */
public record Calibration(String weightsHash, Settings settings, List<Image> images, List<String> exclusions,
                          Map<String, Layer> layers) {
    public static final int FORMAT_VERSION = 1;

    /** How it was made. */
    public record Settings(int steps, long seed, double percentile, double smoothQuantAlpha, int passes) { }

    /** One calibration image. */
    public record Image(String path, String sha256, int width, int height) { }

    /**
     * One layer: {@code op} "conv2d" or "linear"; ranges of its input; smoothQuant per input channel (linear layers,
     * null for convolutions or with α = 0): x is divided and the weight's input column multiplied by it.
     */
    public record Layer(String op, double amax, double percentileAmax, long values, double[] smoothQuant) { }

    public Calibration {
        images = List.copyOf(images);
        exclusions = List.copyOf(exclusions);
        layers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(layers));
    }

    /** The activation range a format's scale is computed from: the percentile when one was asked, else the max. */
    public double range(String weightKey) {
        Layer l = layers.get(weightKey);
        if (l == null) return Double.NaN;
        return settings.percentile < 1 ? l.percentileAmax : l.amax;
    }

    public void write(Path file) {
        ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = m.createObjectNode();
        root.put("format", "autodir-calibration");
        root.put("version", FORMAT_VERSION);
        root.put("weights_hash", weightsHash);
        ObjectNode s = root.putObject("settings");
        s.put("steps", settings.steps).put("seed", settings.seed).put("percentile", settings.percentile)
                .put("smoothquant_alpha", settings.smoothQuantAlpha).put("passes", settings.passes);
        ArrayNode im = root.putArray("images");
        for (Image i : images) im.addObject().put("path", i.path).put("sha256", i.sha256).put("width", i.width).put("height", i.height);
        ArrayNode ex = root.putArray("exclusions");
        exclusions.forEach(ex::add);
        ObjectNode ls = root.putObject("layers");
        layers.forEach((k, l) -> {
            ObjectNode n = ls.putObject(k);
            n.put("op", l.op).put("amax", l.amax).put("percentile_amax", l.percentileAmax).put("values", l.values);
            if (l.smoothQuant != null) {
                ArrayNode a = n.putArray("smoothquant");
                for (double v : l.smoothQuant) a.add(v);
            }
        });
        try {
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            Files.write(tmp, m.writeValueAsBytes(root));
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write calibration " + file + ": " + e.getMessage(), e);
        }
    }

    public static Calibration read(Path file) {
        JsonNode root;
        try {
            if (Files.size(file) > 256L << 20) throw new IllegalArgumentException(file + ": " + Files.size(file) + " bytes is too large for a calibration file");
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read calibration " + file + ": " + e.getMessage(), e);
        }
        if (root == null || !"autodir-calibration".equals(root.path("format").asText())) {
            throw new IllegalArgumentException(file + " is not an autodir calibration file (made by `autodir calibrate`)");
        }
        if (root.path("version").asInt() != FORMAT_VERSION) {
            throw new IllegalArgumentException(file + ": calibration format version " + root.path("version").asInt() + ", this engine reads " + FORMAT_VERSION);
        }
        JsonNode s = root.path("settings");
        Settings settings = new Settings(s.path("steps").asInt(), s.path("seed").asLong(), s.path("percentile").asDouble(1),
                s.path("smoothquant_alpha").asDouble(0), s.path("passes").asInt(1));
        List<Image> images = new ArrayList<>();
        for (JsonNode i : root.path("images")) {
            images.add(new Image(i.path("path").asText(), i.path("sha256").asText(), i.path("width").asInt(), i.path("height").asInt()));
        }
        List<String> ex = new ArrayList<>();
        root.path("exclusions").forEach(n -> ex.add(n.asText()));
        Map<String, Layer> layers = new LinkedHashMap<>();
        root.path("layers").fields().forEachRemaining(e -> {
            JsonNode n = e.getValue();
            double[] sq = null;
            if (n.has("smoothquant")) {
                sq = new double[n.get("smoothquant").size()];
                for (int i = 0; i < sq.length; i++) sq[i] = n.get("smoothquant").get(i).asDouble();
            }
            double amax = n.path("amax").asDouble(Double.NaN);
            if (!(amax >= 0) || Double.isInfinite(amax)) throw new IllegalArgumentException(file + ": layer " + e.getKey() + " has amax " + amax);
            layers.put(e.getKey(), new Layer(n.path("op").asText(), amax, n.path("percentile_amax").asDouble(amax), n.path("values").asLong(), sq));
        });
        return new Calibration(root.path("weights_hash").asText(), settings, images, ex, layers);
    }

    /** A short content hash of the calibration (part of quantized engines' cache keys). */
    public String hash() {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(weightsHash.getBytes(StandardCharsets.UTF_8));
            d.update(settings.toString().getBytes(StandardCharsets.UTF_8));
            d.update(exclusions.toString().getBytes(StandardCharsets.UTF_8));
            layers.forEach((k, l) -> {
                d.update(k.getBytes(StandardCharsets.UTF_8));
                d.update((l.op + l.amax + "/" + l.percentileAmax + (l.smoothQuant == null ? "" : java.util.Arrays.toString(l.smoothQuant)))
                        .getBytes(StandardCharsets.UTF_8));
            });
            return HexFormat.of().formatHex(d.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
