package dev.autodir.cli;

import dev.autodir.io.RandomWeightStore;
import dev.autodir.io.WeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ConfigInference;
import dev.autodir.model.ModelYaml;

import java.nio.file.Path;

/** The models a tool command works on: a checkpoint (with an optional YAML config), or random weights of the official sizes. */
final class ModelSource {
    /** The seed of the random weights: the same numbers in every bench and export run. */
    static final long RANDOM_SEED = 7;

    private ModelSource() { }

    /** {@code weights} null: random weights of the official sizes (seed {@link #RANDOM_SEED}); the caller closes the result. */
    static AutoDIRModels open(Path weights, Path config) {
        if (weights == null) {
            AutoDIRConfig cfg = AutoDIRConfig.official();
            return new AutoDIRModels(new RandomWeightStore(cfg, RANDOM_SEED), cfg);
        }
        WeightStore store = WeightStore.open(weights);
        try {
            return new AutoDIRModels(store, ConfigInference.infer(store, config == null ? ModelYaml.none() : ModelYaml.read(config)));
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /** What the weights are, for reports. */
    static String describe(Path weights) { return weights == null ? "random (official sizes, seed " + RANDOM_SEED + ")" : weights.toString(); }
}
