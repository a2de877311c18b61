package dev.autodir.backend.tensorrt;

import dev.autodir.io.WeightStore;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the tensorrt backend keeps its engines and how it builds them; from system properties (pass them with
 * {@code AUTODIR_JAVA_OPTS} / {@code JDK_JAVA_OPTIONS}), like the cuda backend's options:
 * <ul>
 *   <li>{@code autodir.tensorrt.cache=DIR}: the engine cache. Default: {@code autodir-engines/} beside the weights file
 *       when that folder is writable, else {@code engines/cache/} of the working directory (random weights, as
 *       {@code bench} uses, always go there).</li>
 *   <li>{@code autodir.tensorrt.recipes=FILE}: build recipes (default: the repository's engines/recipes.yaml, packaged
 *       in the jar).</li>
 *   <li>{@code autodir.tensorrt.precision=fp32|fp16|bf16}: the engine precision for every network, over the recipes'
 *       pins and {@code --precision} (the only way to ask for bf16).</li>
 *   <li>{@code autodir.tensorrt.rebuild=true}: build the engine again even when the cache has a valid one (the ONNX export is reused: it is keyed by content).</li>
 *   <li>{@code autodir.tensorrt.cudaGraph=false}: run each engine with {@code enqueueV3} instead of replaying it as a
 *       CUDA graph.</li>
 * </ul>
 *
 * @param cacheDir  the engine cache, or null for the default beside the weights
 * @param recipes   a recipes file, or null for the packaged one
 * @param precision an engine precision for every network, or null
 */
public record TensorRTSettings(Path cacheDir, Path recipes, EnginePrecision precision, boolean rebuild, boolean cudaGraph) {
    /** The folder of the working directory used when the weights' folder is not usable. */
    public static final Path WORKING_DIR_CACHE = Path.of("engines", "cache");
    /** The folder created beside a weights file. */
    public static final String BESIDE_WEIGHTS = "autodir-engines";

    public static TensorRTSettings defaults() { return new TensorRTSettings(null, null, null, false, true); }

    public static TensorRTSettings fromProperties() {
        String cache = System.getProperty("autodir.tensorrt.cache");
        String recipes = System.getProperty("autodir.tensorrt.recipes");
        String precision = System.getProperty("autodir.tensorrt.precision");
        EnginePrecision p;
        try {
            p = precision == null || precision.isBlank() ? null : EnginePrecision.parse(precision);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("-Dautodir.tensorrt.precision: " + e.getMessage());
        }
        return new TensorRTSettings(cache == null || cache.isBlank() ? null : Path.of(cache), recipes == null || recipes.isBlank() ? null : Path.of(recipes),
                p, Boolean.getBoolean("autodir.tensorrt.rebuild"), Boolean.parseBoolean(System.getProperty("autodir.tensorrt.cudaGraph", "true")));
    }

    public TensorRTSettings withCacheDir(Path dir) { return new TensorRTSettings(dir, recipes, precision, rebuild, cudaGraph); }

    public TensorRTSettings withRecipes(Path file) { return new TensorRTSettings(cacheDir, file, precision, rebuild, cudaGraph); }

    public TensorRTSettings withPrecision(EnginePrecision p) { return new TensorRTSettings(cacheDir, recipes, p, rebuild, cudaGraph); }

    /** The recipes these settings name. */
    public EngineRecipes loadRecipes() {
        return recipes == null ? EngineRecipes.packaged() : EngineRecipes.read(recipes);
    }

    /** The engine cache folder for networks reading {@code weights} (see the class comment). */
    public Path cacheDirFor(WeightStore weights) {
        if (cacheDir != null) return cacheDir.toAbsolutePath().normalize();
        Path w = weights == null ? null : weights.path();
        if (w != null && Files.isRegularFile(w)) {
            Path parent = w.toAbsolutePath().getParent();
            Path beside = parent.resolve(BESIDE_WEIGHTS);
            if (Files.isDirectory(beside) ? Files.isWritable(beside) : Files.isWritable(parent)) return beside;
        }
        return WORKING_DIR_CACHE.toAbsolutePath().normalize();
    }

    /** The precision {@code recipe}'s engine is built in when the run asks for {@code requested}. */
    public EnginePrecision precisionFor(EngineRecipe recipe, EnginePrecision requested) {
        return precision != null ? precision : recipe.precisionFor(requested);
    }
}
