package dev.autodir.cli;

import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;

import java.nio.file.Path;

/** The models a tool command works on: a checkpoint (with an optional YAML config), or random weights (official sizes, or a spec). */
final class ModelSource {
    /** The seed of the random weights: the same numbers in every bench and export run (and random:tiny / random:official's). */
    static final long RANDOM_SEED = RandomWeightStore.SPEC_SEED;

    private ModelSource() { }

    /**
     * {@code weights} null: random weights of the official sizes (seed {@link #RANDOM_SEED}); a random-weights spec
     * ({@code random:tiny}, {@code random:official}) or a checkpoint as {@link AutoDIRModels#load} opens them. The caller
     * closes the result.
     */
    static AutoDIRModels open(Path weights, Path config) {
        if (weights == null) {
            AutoDIRConfig cfg = AutoDIRConfig.official();
            return new AutoDIRModels(new RandomWeightStore(cfg, RANDOM_SEED), cfg);
        }
        return AutoDIRModels.load(weights, config == null ? ModelYaml.none() : ModelYaml.read(config));
    }

    /** What the weights are, for reports. */
    static String describe(Path weights) { return weights == null ? "random (official sizes, seed " + RANDOM_SEED + ")" : weights.toString(); }
}
