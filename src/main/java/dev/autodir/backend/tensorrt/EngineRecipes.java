package dev.autodir.backend.tensorrt;

import dev.autodir.model.Networks;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The TensorRT build recipes: {@code engines/recipes.yaml} of the repository (also packaged in the jar, the default),
 * or a file given with {@code -Dautodir.tensorrt.recipes=FILE}. Format (engines/README.md documents it):
 * <pre>
 * format: 1
 * defaults:                    # every key optional; these apply to each network not overriding them
 *   optimization-level: 3      # 0..5
 *   workspace-mib: 4096        # 1 .. 1048576
 *   tf32: false
 *   timing-cache: true
 * networks:
 *   unet:
 *     precision: fp16          # optional pin: fp32 | fp16 | bf16 (absent: the run's precision)
 *     profile:                 # optional: a shape range per input (absent: the compiled static shapes)
 *       x: {min: [1, 8, 32, 32], opt: [1, 8, 64, 64], max: [1, 8, 128, 128]}
 * </pre>
 * Everything is checked when the file is read: an unknown key, network or value fails with one line that names the
 * file, the key path and the value.
 */
public final class EngineRecipes {
    /** The packaged copy of engines/recipes.yaml. */
    public static final String RESOURCE = "/dev/autodir/engines/recipes.yaml";
    public static final int FORMAT = 1;
    /** Networks a recipe may name: every network of {@link Networks} plus clip-model. */
    public static final Set<String> KNOWN_NETWORKS;

    static {
        Set<String> s = new LinkedHashSet<>(Networks.NAMES);
        s.add("clip-model");
        KNOWN_NETWORKS = Collections.unmodifiableSet(s);
    }

    private static final Set<String> TOP_KEYS = Set.of("format", "defaults", "networks");
    private static final List<String> RECIPE_KEYS = List.of("precision", "optimization-level", "workspace-mib", "tf32", "timing-cache", "profile");
    private static final Set<String> RANGE_KEYS = Set.of("min", "opt", "max");

    private final String source;
    private final Map<String, Object> defaults;
    private final Map<String, EngineRecipe> recipes;

    private EngineRecipes(String source, Map<String, Object> defaults, Map<String, EngineRecipe> recipes) {
        this.source = source;
        this.defaults = defaults;
        this.recipes = recipes;
    }

    /** The recipes packaged in the jar (the repository's engines/recipes.yaml). */
    public static EngineRecipes packaged() {
        try (InputStream in = EngineRecipes.class.getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException("the jar has no " + RESOURCE + " (engines/recipes.yaml was not packaged)");
            return parse("engines/recipes.yaml (packaged)", new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + RESOURCE + ": " + e.getMessage(), e);
        }
    }

    public static EngineRecipes read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": no such recipes file");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage(), e);
        }
        return parse(file.toString(), text);
    }

    /** Parses and validates recipes text; {@code source} names it in messages. */
    public static EngineRecipes parse(String source, String yaml) {
        Object doc;
        try (Reader r = new StringReader(yaml)) {
            doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
        } catch (YAMLException e) {
            throw new IllegalArgumentException(source + ": not valid YAML: " + e.getMessage().replace('\n', ' '), e);
        } catch (IOException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
        if (!(doc instanceof Map<?, ?> root)) throw new IllegalArgumentException(source + ": the top level must be a mapping (format, defaults, networks)");
        for (Object k : root.keySet()) {
            if (!TOP_KEYS.contains(String.valueOf(k))) {
                throw new IllegalArgumentException(source + ": unknown key \"" + k + "\" (keys: format, defaults, networks)");
            }
        }
        Object format = root.get("format");
        if (!(format instanceof Integer f) || f != FORMAT) {
            throw new IllegalArgumentException(source + ": format must be " + FORMAT + ", found " + describe(format));
        }
        Map<String, Object> defaults = mapping(source, "defaults", root.get("defaults"));
        if (defaults.containsKey("profile")) {
            throw new IllegalArgumentException(source + ": defaults.profile: a profile names one network's inputs; give it under networks.NAME.profile");
        }
        checkKeys(source, "defaults", defaults);
        recipe(source, "defaults", "defaults", defaults, Map.of());   // validates the defaults' values on their own
        Map<String, EngineRecipe> recipes = new LinkedHashMap<>();
        Map<String, Object> networks = mapping(source, "networks", root.get("networks"));
        for (Map.Entry<String, Object> e : networks.entrySet()) {
            String name = e.getKey();
            if (!KNOWN_NETWORKS.contains(name)) {
                throw new IllegalArgumentException(source + ": networks." + name + ": unknown network (networks: " + String.join(", ", KNOWN_NETWORKS) + ")");
            }
            Map<String, Object> m = mapping(source, "networks." + name, e.getValue());
            checkKeys(source, "networks." + name, m);
            recipes.put(name, recipe(source, "networks." + name, name, m, defaults));
        }
        return new EngineRecipes(source, defaults, Collections.unmodifiableMap(recipes));
    }

    /** Where these recipes came from (for messages). */
    public String source() { return source; }

    /** The networks with their own entry. */
    public Set<String> networks() { return recipes.keySet(); }

    /** The recipe of {@code network}: its entry, or the defaults. */
    public EngineRecipe recipe(String network) {
        EngineRecipe r = recipes.get(network);
        return r != null ? r : recipe(source, "defaults", network, Map.of(), defaults);
    }

    private static EngineRecipe recipe(String source, String path, String network, Map<String, Object> own, Map<String, Object> defaults) {
        Map<String, Object> m = new LinkedHashMap<>(defaults);
        m.putAll(own);
        EngineRecipe d = EngineRecipe.defaults(network);
        EnginePrecision precision = null;
        if (m.containsKey("precision")) {
            Object v = m.get("precision");
            try {
                precision = EnginePrecision.parse(v instanceof String s ? s : null);
            } catch (IllegalArgumentException e) {
                throw bad(source, where(path, own, "precision"), describe(v), "fp32, fp16 or bf16");
            }
            // a recipe pins float precisions only: INT8 / FP8 engines come with a calibration (--precision and
            // --calibration of the run), which a recipe file cannot name
            if (precision.quantized()) throw bad(source, where(path, own, "precision"), describe(v), "fp32, fp16 or bf16");
        }
        int level = (int) integer(source, where(path, own, "optimization-level"), m.get("optimization-level"), d.optimizationLevel(),
                EngineRecipe.MIN_OPTIMIZATION_LEVEL, EngineRecipe.MAX_OPTIMIZATION_LEVEL);
        long workspaceMiB = integer(source, where(path, own, "workspace-mib"), m.get("workspace-mib"), d.workspaceBytes() >> 20, 1,
                EngineRecipe.MAX_WORKSPACE_MIB);
        boolean tf32 = bool(source, where(path, own, "tf32"), m.get("tf32"), d.tf32());
        boolean timing = bool(source, where(path, own, "timing-cache"), m.get("timing-cache"), d.timingCache());
        ShapeProfile profile = own.containsKey("profile") ? profile(source, path + ".profile", own.get("profile")) : null;
        return new EngineRecipe(network, precision, level, workspaceMiB << 20, tf32, timing, profile);
    }

    /** The key path a value came from: the network's own entry, or the defaults. */
    private static String where(String path, Map<String, Object> own, String key) {
        return (own.containsKey(key) ? path : "defaults") + "." + key;
    }

    private static ShapeProfile profile(String source, String path, Object node) {
        Map<String, Object> inputs = mapping(source, path, node);
        if (inputs.isEmpty()) throw new IllegalArgumentException(source + ": " + path + ": a profile names at least one input");
        Map<String, ShapeProfile.Range> ranges = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : inputs.entrySet()) {
            String p = path + "." + e.getKey();
            Map<String, Object> r = mapping(source, p, e.getValue());
            for (String k : r.keySet()) {
                if (!RANGE_KEYS.contains(k)) throw new IllegalArgumentException(source + ": " + p + ": unknown key \"" + k + "\" (keys: min, opt, max)");
            }
            for (String k : List.of("min", "opt", "max")) {
                if (!r.containsKey(k)) throw new IllegalArgumentException(source + ": " + p + ": " + k + " is missing (a range gives min, opt and max)");
            }
            try {
                ranges.put(e.getKey(), new ShapeProfile.Range(dims(source, p + ".min", r.get("min")), dims(source, p + ".opt", r.get("opt")),
                        dims(source, p + ".max", r.get("max"))));
            } catch (IllegalArgumentException x) {
                if (x.getMessage().startsWith(source)) throw x;
                throw new IllegalArgumentException(source + ": " + p + ": " + x.getMessage(), x);
            }
        }
        return new ShapeProfile(ranges);
    }

    private static int[] dims(String source, String path, Object v) {
        if (!(v instanceof List<?> l) || l.isEmpty()) throw bad(source, path, describe(v), "a list of dimensions such as [1, 4, 64, 64]");
        int[] d = new int[l.size()];
        for (int i = 0; i < d.length; i++) {
            if (!(l.get(i) instanceof Integer x) || x < 1) throw bad(source, path, describe(v), "a list of positive integers");
            d[i] = x;
        }
        return d;
    }

    private static void checkKeys(String source, String path, Map<String, Object> m) {
        for (String k : m.keySet()) {
            if (!RECIPE_KEYS.contains(k)) {
                throw new IllegalArgumentException(source + ": " + path + ": unknown key \"" + k + "\" (keys: " + String.join(", ", RECIPE_KEYS) + ")");
            }
        }
    }

    private static long integer(String source, String path, Object v, long fallback, long min, long max) {
        if (v == null) return fallback;
        if (!(v instanceof Integer) && !(v instanceof Long)) throw bad(source, path, describe(v), "an integer in " + min + ".." + max);
        long x = ((Number) v).longValue();
        if (x < min || x > max) throw new IllegalArgumentException(source + ": " + path + ": " + x + " is outside " + min + ".." + max);
        return x;
    }

    private static boolean bool(String source, String path, Object v, boolean fallback) {
        if (v == null) return fallback;
        if (!(v instanceof Boolean b)) throw bad(source, path, describe(v), "true or false");
        return b;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> mapping(String source, String path, Object node) {
        if (node == null) return Map.of();
        if (!(node instanceof Map<?, ?> m)) throw bad(source, path, describe(node), "a mapping");
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) out.put(String.valueOf(e.getKey()), e.getValue());
        return out;
    }

    private static IllegalArgumentException bad(String source, String path, String found, String expected) {
        return new IllegalArgumentException(source + ": " + path + ": " + found + " is not " + expected);
    }

    private static String describe(Object v) {
        if (v == null) return "nothing";
        if (v instanceof String s) return "\"" + s + "\"";
        if (v instanceof List<?> l) return new ArrayList<>(l).toString();
        return String.valueOf(v);
    }
}
