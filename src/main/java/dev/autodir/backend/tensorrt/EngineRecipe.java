package dev.autodir.backend.tensorrt;

/**
 * How TensorRT builds one network's engine (one entry of {@code engines/recipes.yaml}, over the file's defaults).
 *
 * @param network           the network's name ("unet", "vae-decode", ...)
 * @param precision         a pinned engine precision, or null: the run's ({@code --precision} or
 *                          {@code -Dautodir.tensorrt.precision})
 * @param optimizationLevel {@code IBuilderConfig.setBuilderOptimizationLevel}: 0 (fastest build) … 5 (most tactics
 *                          tried); TensorRT's default is 3
 * @param workspaceBytes    {@code setMemoryPoolLimit(kWORKSPACE, …)}: the scratch memory tactics may use
 * @param tf32              allow TF32 tensor cores for float32 layers (TensorRT's default is on; an fp32 engine
 *                          meant as a reference keeps it off)
 * @param timingCache       load and save the timing cache file of the engine cache (speeds up rebuilds; the tactics
 *                          chosen do not depend on it, so it is not part of the cache key)
 * @param profile           an optimisation profile (a shape range), or null: the static shapes of the compiled network
 */
public record EngineRecipe(String network, EnginePrecision precision, int optimizationLevel, long workspaceBytes, boolean tf32,
                           boolean timingCache, ShapeProfile profile) {
    public static final int MIN_OPTIMIZATION_LEVEL = 0;
    public static final int MAX_OPTIMIZATION_LEVEL = 5;
    /** The workspace limit a recipe may ask for: 1 MiB … 1 TiB. */
    public static final long MAX_WORKSPACE_MIB = 1L << 20;

    public EngineRecipe {
        if (network == null || network.isBlank()) throw new IllegalArgumentException("a recipe names its network");
        if (optimizationLevel < MIN_OPTIMIZATION_LEVEL || optimizationLevel > MAX_OPTIMIZATION_LEVEL) {
            throw new IllegalArgumentException(network + ": optimization-level " + optimizationLevel + " is outside "
                    + MIN_OPTIMIZATION_LEVEL + ".." + MAX_OPTIMIZATION_LEVEL);
        }
        if (workspaceBytes < (1L << 20) || workspaceBytes > (MAX_WORKSPACE_MIB << 20)) {
            throw new IllegalArgumentException(network + ": workspace " + workspaceBytes + " bytes is outside 1 MiB .. " + MAX_WORKSPACE_MIB + " MiB");
        }
    }

    /** TensorRT's defaults where a recipe says nothing: level 3, 4 GiB of workspace, no TF32, a timing cache. */
    public static EngineRecipe defaults(String network) {
        return new EngineRecipe(network, null, 3, 4096L << 20, false, true, null);
    }

    /** The precision this engine is built in when the run asks for {@code requested}: the pinned one, if any. */
    public EnginePrecision precisionFor(EnginePrecision requested) {
        return precision != null ? precision : requested;
    }

    public EngineRecipe withOptimizationLevel(int level) {
        return new EngineRecipe(network, precision, level, workspaceBytes, tf32, timingCache, profile);
    }

    public EngineRecipe withProfile(ShapeProfile p) {
        return new EngineRecipe(network, precision, optimizationLevel, workspaceBytes, tf32, timingCache, p);
    }
}
