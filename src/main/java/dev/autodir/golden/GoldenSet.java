package dev.autodir.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A fixture directory in the format of {@code shared/golden/A}: {@code manifest.json} (configs, cases, tensor
 * specs and tolerances) and one {@code case_*.safetensors} per case holding its {@code input_*} and
 * {@code output_*} tensors.
 */
public final class GoldenSet {

    /** What the manifest says of one tensor of a case. */
    public record TensorSpec(String name, int[] shape, String dtype, double relL2, double maxAbs, boolean exact) {
        public boolean isOutput() { return name.equals("output") || name.startsWith("output_"); }
    }

    /** One case of the manifest. */
    public record CaseSpec(String name, Path file, JsonNode info, Map<String, TensorSpec> tensors) {
        public List<TensorSpec> outputs() {
            List<TensorSpec> out = new ArrayList<>();
            for (TensorSpec t : tensors.values()) if (t.isOutput()) out.add(t);
            return out;
        }
    }

    private final Path dir;
    private final JsonNode manifest;
    private final List<CaseSpec> cases;

    private GoldenSet(Path dir, JsonNode manifest, List<CaseSpec> cases) {
        this.dir = dir;
        this.manifest = manifest;
        this.cases = cases;
    }

    public static GoldenSet open(Path dir) {
        Path m = dir.resolve("manifest.json");
        if (!Files.isRegularFile(m)) throw new IllegalArgumentException(dir + ": no manifest.json (not a golden fixture directory)");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(m.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(m + ": cannot read the manifest: " + e.getMessage(), e);
        }
        List<CaseSpec> cases = new ArrayList<>();
        for (JsonNode c : root.path("cases")) {
            Map<String, TensorSpec> tensors = new LinkedHashMap<>();
            Iterator<Map.Entry<String, JsonNode>> it = c.path("tensors").fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode t = e.getValue();
                int[] shape = new int[t.path("shape").size()];
                for (int i = 0; i < shape.length; i++) shape[i] = t.path("shape").get(i).asInt();
                JsonNode tol = t.path("tolerance");
                tensors.put(e.getKey(), new TensorSpec(e.getKey(), shape, t.path("dtype").asText(),
                        tol.path("rel_l2").asDouble(Double.NaN), tol.path("max_abs").asDouble(Double.NaN),
                        tol.path("exact").asBoolean(false)));
            }
            cases.add(new CaseSpec(c.path("name").asText(), dir.resolve(c.path("file").asText()), c.path("info"), tensors));
        }
        if (cases.isEmpty()) throw new IllegalArgumentException(m + ": the manifest lists no cases");
        return new GoldenSet(dir, root, cases);
    }

    public Path dir() { return dir; }

    public JsonNode manifest() { return manifest; }

    public List<CaseSpec> cases() { return cases; }

    /** The weights file the manifest names (weights.safetensors in set A). */
    public Path weightsFile() {
        return dir.resolve(manifest.path("weights").path("file").asText("weights.safetensors"));
    }

    /** The manifest's configs section (network hyper-parameters of the fixture's models). */
    public JsonNode configs() { return manifest.path("configs"); }
}
