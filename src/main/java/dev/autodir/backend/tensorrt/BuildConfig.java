package dev.autodir.backend.tensorrt;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Exactly what {@link EngineBuilder} hands TensorRT for one build, as plain data (tests assert on it; the builder
 * applies it field by field and does nothing else):
 * <ul>
 *   <li>{@code createNetworkV2(networkFlags)}; {@code parseFromFile(onnxModel)} (external data beside it);</li>
 *   <li>{@code IBuilderConfig.setFlag} for each of {@link #setFlags}, {@code clearFlag} for each of
 *       {@link #clearFlags} ({@code BuilderFlag} names: kFP16, kBF16, kTF32);</li>
 *   <li>{@code setBuilderOptimizationLevel}, {@code setMemoryPoolLimit(kWORKSPACE, workspaceBytes)};</li>
 *   <li>the timing cache read from / written back to {@link #timingCache} (null: none);</li>
 *   <li>one optimisation profile with {@link #profile}'s ranges, or none for static shapes.</li>
 * </ul>
 * Derived from an {@link EngineKey} only, so every setting that can change the plan is part of the cache key.
 */
public record BuildConfig(String network, Path onnxModel, EnginePrecision precision, int networkFlags, List<String> setFlags,
                          List<String> clearFlags, int optimizationLevel, long workspaceBytes, Path timingCache,
                          List<ProfileDims> profile) {
    /** One input's min / opt / max dimensions for {@code IOptimizationProfile.setDimensions}. */
    public record ProfileDims(String input, ShapeProfile.Range range) {
        public int[] min() { return range.min(); }

        public int[] opt() { return range.opt(); }

        public int[] max() { return range.max(); }
    }

    public BuildConfig {
        setFlags = List.copyOf(setFlags);
        clearFlags = List.copyOf(clearFlags);
        profile = List.copyOf(profile);
        for (String f : setFlags) {
            if (clearFlags.contains(f)) throw new IllegalArgumentException(network + ": builder flag " + f + " both set and cleared");
        }
    }

    /**
     * The build of {@code key}'s engine from {@code onnxModel}. Weakly typed network (flags 0: explicit batch is
     * TensorRT 10's only mode) so that the FP16 / BF16 flags let the builder choose per layer; TF32 is cleared unless
     * the key allows it (TensorRT enables it by default, which would make an "fp32" engine a TF32 one).
     */
    public static BuildConfig of(EngineKey key, Path onnxModel, Path timingCache) {
        List<String> set = new ArrayList<>(), clear = new ArrayList<>();
        switch (key.precision()) {
            case FP16 -> set.add("kFP16");
            case BF16 -> set.add("kBF16");
            case FP32 -> { }
        }
        if (key.tf32()) set.add("kTF32");
        else clear.add("kTF32");
        List<ProfileDims> dims = new ArrayList<>();
        if (key.profile() != null) {
            key.profile().ranges().forEach((name, r) -> dims.add(new ProfileDims(name, r)));
        }
        return new BuildConfig(key.network(), onnxModel, key.precision(), 0, set, clear, key.optimizationLevel(), key.workspaceBytes(),
                timingCache, dims);
    }
}
