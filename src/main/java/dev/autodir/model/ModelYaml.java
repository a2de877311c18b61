package dev.autodir.model;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An official-style model config ({@code configs/generate.yaml} format): values are looked up by
 * dotted path, e.g. {@code model.params.unet_config.params.num_heads}. Keys this engine does not use
 * (learning rates, monitors, loss configs, ...) are ignored; a key that is present but has the wrong
 * type is an error naming the file and the key.
 *
 * <p>Beyond the official file, optional sections describe what the official code hard-codes:
 * {@code model.params.assessment_config.params} (Hugging Face CLIPModel: {@code projection_dim},
 * {@code text_config.*}, {@code vision_config.*} with HF's key names) and
 * {@code model.params.scm_config.params} (NAFNet_Combine's constructor arguments).
 */
public final class ModelYaml {
    public static final String PARAMS = "model.params.";
    public static final String UNET = PARAMS + "unet_config.params.";
    public static final String VAE = PARAMS + "first_stage_config.params.";
    public static final String VAE_DD = VAE + "ddconfig.";
    public static final String CLIP = PARAMS + "assessment_config.params.";
    public static final String CLIP_TEXT = CLIP + "text_config.";
    public static final String CLIP_VISION = CLIP + "vision_config.";
    public static final String SCM = PARAMS + "scm_config.params.";

    private final String source;
    private final Map<?, ?> root;

    private ModelYaml(String source, Map<?, ?> root) {
        this.source = source;
        this.root = root;
    }

    /** No file: every value is inferred from the weights or is the official default. */
    public static ModelYaml none() {
        return new ModelYaml("official defaults", Map.of());
    }

    /** A config given as nested maps in the YAML file's layout (e.g. built from a fixture's manifest). */
    public static ModelYaml fromMap(String source, Map<?, ?> root) {
        return new ModelYaml(source, root);
    }

    /** The largest config file read: the official generate.yaml is about 3 KB. */
    public static final int MAX_BYTES = 1 << 20;

    /**
     * Reads a YAML file of at most {@value #MAX_BYTES} bytes (checked before parsing) with snakeyaml's
     * safe constructor and its limits: no duplicate keys, at most 50 aliases per collection (no
     * billion-laughs), nesting at most 64 deep.
     */
    public static ModelYaml read(Path file) {
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": no such file");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (size > MAX_BYTES) {
            throw new ConfigException(file + ": " + size + " bytes, over the limit of " + MAX_BYTES + " for a config file"
                    + " (the official generate.yaml is about 3 KB)");
        }
        Object doc;
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setMaxAliasesForCollections(50);
        options.setNestingDepthLimit(64);
        options.setCodePointLimit(MAX_BYTES);
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            doc = new Yaml(new SafeConstructor(options)).load(r);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": no such file");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage(), e);
        } catch (YAMLException | IllegalArgumentException | IllegalStateException | ClassCastException e) {
            // snakeyaml reports some malformed documents (bad tags, merge keys of the wrong kind) unchecked
            String m = String.valueOf(e.getMessage()).replace('\n', ' ');
            throw new ConfigException(file + ": not valid YAML: " + (m.length() > 300 ? m.substring(0, 300) + "..." : m), e);
        } catch (StackOverflowError e) {
            throw new ConfigException(file + ": not valid YAML: nested too deeply");
        }
        if (doc == null) doc = Map.of();
        if (!(doc instanceof Map<?, ?> m)) throw new ConfigException(file + ": the top level is not a mapping");
        return new ModelYaml(file.toString(), m);
    }

    /** The file name, or "official defaults". */
    public String source() { return source; }

    public boolean has(String path) { return lookup(path) != null; }

    private Object lookup(String path) {
        Object node = root;
        for (String part : path.split("\\.")) {
            if (!(node instanceof Map<?, ?> m)) return null;
            node = m.get(part);
        }
        return node;
    }

    private ConfigException wrong(String path, String expected, Object found) {
        return new ConfigException(source + ": " + path + " must be " + expected + ", found " + describe(found));
    }

    private static String describe(Object o) {
        if (o instanceof String s) return "\"" + s + "\"";
        return String.valueOf(o);
    }

    public Optional<Integer> integer(String path) {
        Object v = lookup(path);
        if (v == null) return Optional.empty();
        if (v instanceof Integer i) return Optional.of(i);
        throw wrong(path, "an integer", v);
    }

    public Optional<Double> number(String path) {
        Object v = lookup(path);
        if (v == null) return Optional.empty();
        if (v instanceof Number n && !(v instanceof Long)) return Optional.of(n.doubleValue());
        if (v instanceof String s) {
            // YAML 1.1 reads 1e-5 (no dot) as a string
            try {
                return Optional.of(Double.parseDouble(s.trim()));
            } catch (NumberFormatException e) {
                throw wrong(path, "a number", v);
            }
        }
        throw wrong(path, "a number", v);
    }

    public Optional<Boolean> bool(String path) {
        Object v = lookup(path);
        if (v == null) return Optional.empty();
        if (v instanceof Boolean b) return Optional.of(b);
        throw wrong(path, "true or false", v);
    }

    public Optional<String> string(String path) {
        Object v = lookup(path);
        if (v == null) return Optional.empty();
        if (v instanceof String s) return Optional.of(s);
        throw wrong(path, "a string", v);
    }

    public Optional<List<Integer>> ints(String path) {
        Object v = lookup(path);
        if (v == null) return Optional.empty();
        if (!(v instanceof List<?> l)) throw wrong(path, "a list of integers", v);
        List<Integer> out = new ArrayList<>();
        for (Object o : l) {
            if (!(o instanceof Integer i)) throw wrong(path, "a list of integers", v);
            out.add(i);
        }
        return Optional.of(List.copyOf(out));
    }

    /** An error about a value this engine cannot honour, naming the file and key. */
    public ConfigException unsupported(String path, String why) {
        return new ConfigException(source + ": " + path + ": " + why);
    }

    @Override public String toString() { return source; }
}
