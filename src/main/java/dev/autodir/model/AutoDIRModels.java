package dev.autodir.model;

import dev.autodir.io.RandomWeightStore;
import dev.autodir.io.WeightStore;
import dev.autodir.model.clip.CLIP;
import dev.autodir.model.scm.NAFNet;
import dev.autodir.model.unet.UNet;
import dev.autodir.model.vae.VAE;

/**
 * The four AutoDIR networks bound to one checkpoint. It owns the weight store; the backends own the converted
 * or uploaded copies of the weights.
 */
public final class AutoDIRModels implements AutoCloseable {
    private final WeightStore store;
    private final AutoDIRConfig config;
    private final UNet unet;
    private final VAE vae;
    private final CLIP clip;
    private final NAFNet nafnet;

    public AutoDIRModels(WeightStore store, AutoDIRConfig config) {
        this.store = store;
        this.config = config;
        this.unet = new UNet(config.unet(), store);
        this.vae = new VAE(config.vae(), store);
        this.clip = new CLIP(config.clipText(), config.clipVision(), store);
        this.nafnet = new NAFNet(config.nafnet(), store);
    }

    /**
     * Opens a checkpoint, infers and validates the configs (completed by {@code yaml}) and binds the networks. A
     * random-weights spec ({@code random:tiny}, {@code random:official}; see {@link RandomWeightStore#isSpec}) makes
     * seeded random weights of that config instead; its config is the spec's own.
     */
    public static AutoDIRModels load(java.nio.file.Path weights, ModelYaml yaml) {
        if (RandomWeightStore.isSpec(weights)) {
            RandomWeightStore random = RandomWeightStore.fromSpec(weights);
            return new AutoDIRModels(random, random.config());
        }
        WeightStore store = WeightStore.open(weights);
        try {
            return new AutoDIRModels(store, ConfigInference.infer(store, yaml));
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    public WeightStore store() { return store; }
    public AutoDIRConfig config() { return config; }
    public UNet unet() { return unet; }
    public VAE vae() { return vae; }
    public CLIP clip() { return clip; }
    public NAFNet nafnet() { return nafnet; }

    /** Image sides must be multiples of this: the VAE's factor times the UNet's 2^(levels−1). */
    public int sizeMultiple() {
        return config.vae().downsampleFactor() * (1 << (config.unet().levels() - 1));
    }

    @Override public void close() { store.close(); }
}
