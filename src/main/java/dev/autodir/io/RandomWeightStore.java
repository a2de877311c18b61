package dev.autodir.io;

import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.ConfigInference;
import dev.autodir.model.WeightLayout;
import dev.autodir.tensor.FloatTensor;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A weight store of random float32 tensors with exactly the keys and shapes a config implies (for benchmarks at
 * the real sizes without the real checkpoint). Values are drawn per key from a seed, generated on request and not
 * kept: U(−1/√fan_in, 1/√fan_in) for matrices and kernels, 1 ± 0.05 for normalisation scales, ±0.02 for biases and
 * offsets, so activations stay in a realistic range through deep networks.
 */
public final class RandomWeightStore implements WeightStore {
    /** A {@code --weights} value naming random weights instead of a file: {@code random:tiny} or {@code random:official}. */
    public static final String SPEC_PREFIX = "random:";
    /** The seed of the weights a spec names (the one {@code bench} uses). */
    public static final long SPEC_SEED = 7;

    private final Map<String, int[]> shapes = new LinkedHashMap<>();
    private final long seed;
    private final AutoDIRConfig config;

    public RandomWeightStore(AutoDIRConfig config, long seed) {
        this.config = config;
        this.seed = seed;
        put(ConfigInference.UNET_PREFIX, WeightLayout.unet(config.unet()));
        put(ConfigInference.VAE_PREFIX, WeightLayout.vae(config.vae()));
        put(ConfigInference.CLIP_PREFIX, WeightLayout.clipText(config.clipText()));
        put(ConfigInference.CLIP_PREFIX, WeightLayout.clipVision(config.clipVision()));
        put(ConfigInference.SCM_PREFIX, WeightLayout.nafnet(config.nafnet()));
        shapes.put(ConfigInference.ALPHAS_CUMPROD, new int[] {config.schedule().timesteps()});
    }

    /** Whether {@code weights} is a random-weights spec ({@value #SPEC_PREFIX}NAME) rather than a file. */
    public static boolean isSpec(Path weights) {
        return weights != null && weights.getNameCount() == 1 && weights.toString().startsWith(SPEC_PREFIX);
    }

    /**
     * The config a spec names: {@code random:tiny} ({@link AutoDIRConfig#tiny}, the whole pipeline in seconds) or
     * {@code random:official} (the official sizes, for timing).
     */
    public static AutoDIRConfig specConfig(Path weights) {
        String name = weights.toString().substring(SPEC_PREFIX.length());
        return switch (name) {
            case "tiny" -> AutoDIRConfig.tiny();
            case "official" -> AutoDIRConfig.official();
            default -> throw new IllegalArgumentException("unknown random weights \"" + weights + "\" (choose "
                    + SPEC_PREFIX + "tiny or " + SPEC_PREFIX + "official)");
        };
    }

    /** The store a spec names, with {@link #SPEC_SEED}. */
    public static RandomWeightStore fromSpec(Path weights) {
        return new RandomWeightStore(specConfig(weights), SPEC_SEED);
    }

    private void put(String prefix, Map<String, int[]> m) {
        m.forEach((k, v) -> shapes.put(prefix + k, v));
    }

    public AutoDIRConfig config() { return config; }

    @Override public Path path() { return Path.of("random-weights(seed=" + seed + ")"); }

    @Override public Set<String> keys() { return Collections.unmodifiableSet(shapes.keySet()); }

    @Override public boolean contains(String key) { return shapes.containsKey(key); }

    @Override public TensorInfo info(String key) {
        int[] s = shapes.get(key);
        if (s == null) throw new CheckpointException(path(), "missing tensor \"" + key + "\"");
        return new TensorInfo(key, DType.F32, s.clone());
    }

    @Override public FloatTensor readFloat(String key) {
        int[] s = info(key).shape();
        if (key.equals(ConfigInference.ALPHAS_CUMPROD)) return new FloatTensor(config.schedule().alphasCumprod().clone(), s);
        FloatTensor t = FloatTensor.zeros(s);
        float[] d = t.data();
        SplittableRandom r = new SplittableRandom(seed ^ (key.hashCode() * 0x9E3779B97F4A7C15L));
        if (key.endsWith(WeightLayout.LOGIT_SCALE)) {
            java.util.Arrays.fill(d, 4.6052f);                                   // ln(100), CLIP's trained value
        } else if (s.length >= 2) {
            long fanIn = d.length / s[0];
            double k = 1 / Math.sqrt(Math.max(1, fanIn));
            for (int i = 0; i < d.length; i++) d[i] = (float) ((2 * r.nextDouble() - 1) * k);
        } else if (key.endsWith(".weight")) {
            for (int i = 0; i < d.length; i++) d[i] = (float) (1 + 0.1 * (r.nextDouble() - 0.5));
        } else {
            for (int i = 0; i < d.length; i++) d[i] = (float) (0.04 * (r.nextDouble() - 0.5));
        }
        return t;
    }

    @Override public long[] readLong(String key) {
        throw new CheckpointException(path(), "\"" + key + "\" is a float tensor, not an integer one");
    }

    @Override public void close() { }
}
