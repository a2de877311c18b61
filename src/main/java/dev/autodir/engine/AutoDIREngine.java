package dev.autodir.engine;

import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Precision;
import dev.autodir.image.RgbImage;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The AutoDIR engine for programs: load once, restore many images.
 *
 * <pre>{@code
 * try (AutoDIREngine engine = AutoDIREngine.open(AutoDIREngine.Settings.of(Path.of("autodir.ckpt")))) {
 *     RgbImage image = RgbImage.read(Path.of("photo.png"));
 *     Restorer.Outcome out = engine.restore(image.toTensor(), RestoreOptions.defaults().withSteps(50), null);
 *     RgbImageWriter.write(out.finalImage(), Path.of("photo_restored.png"), RgbImageWriter.WriteOptions.DEFAULT);
 * }
 * }</pre>
 *
 * <p>Thread safety: every public method may be called from any thread. Calls run one at a time (a lock
 * serialises them, because the backends hold per-call scratch memory); a second caller waits. {@link #close()}
 * waits for a running call, then frees the weights and every backend's memory.
 */
public final class AutoDIREngine implements AutoCloseable {

    /**
     * How to open an engine.
     *
     * @param weights   the AutoDIR checkpoint (.ckpt or .safetensors), or {@code random:tiny} / {@code random:official}
     *                  for seeded random weights of a tiny model of the official structure or of the official sizes
     * @param config    an official-style YAML for what shapes cannot tell, or null for the official values
     * @param tokenizer CLIP BPE vocabulary (.txt.gz, or a directory / file of a HF vocab.json + merges.txt pair),
     *                  or null for the vocabulary carried in the jar
     * @param backends  which backend runs each stage
     * @param precision storage precision of device backends (the cpu backend is float32)
     */
    public record Settings(Path weights, Path config, Path tokenizer, BackendSpec backends, Precision precision) {
        public Settings {
            if (weights == null) throw new IllegalArgumentException("weights: a checkpoint path is required");
            if (RandomWeightStore.isSpec(weights)) {
                RandomWeightStore.specConfig(weights);                                   // a bad name throws here
                if (config != null) throw new IllegalArgumentException("config: random weights (" + weights + ") carry their own config");
            } else if (!Files.isRegularFile(weights)) {
                throw new IllegalArgumentException("weights: " + weights + " is not a readable file");
            }
            if (config != null && !Files.isRegularFile(config)) throw new IllegalArgumentException("config: " + config + " is not a readable file");
            if (tokenizer != null && !Files.exists(tokenizer)) throw new IllegalArgumentException("tokenizer: " + tokenizer + " does not exist");
            if (backends == null) backends = BackendSpec.all("cpu");
            if (precision == null) precision = Precision.FP32;
        }

        public static Settings of(Path weights) { return new Settings(weights, null, null, null, null); }
    }

    private final AutoDIRModels models;
    private final StageBackends backends;
    private final Restorer restorer;
    private final ReentrantLock lock = new ReentrantLock();
    private boolean closed;

    private AutoDIREngine(AutoDIRModels models, StageBackends backends, Restorer restorer) {
        this.models = models;
        this.backends = backends;
        this.restorer = restorer;
    }

    /** Opens the checkpoint, validates it against its inferred configs and starts the backends (fallback notices go to stderr). */
    public static AutoDIREngine open(Settings s) { return open(s, System.err); }

    public static AutoDIREngine open(Settings s, PrintStream notices) {
        CLIPTokenizer tokenizer = s.tokenizer() == null ? CLIPTokenizer.loadDefault() : CLIPTokenizer.load(s.tokenizer());
        ModelYaml yaml = s.config() == null ? ModelYaml.none() : ModelYaml.read(s.config());
        AutoDIRModels models = AutoDIRModels.load(s.weights(), yaml);
        StageBackends backends;
        try {
            backends = Backends.create(s.backends(), s.precision(), notices);
        } catch (RuntimeException e) {
            models.close();
            throw e;
        }
        return new AutoDIREngine(models, backends, new Restorer(models, backends, tokenizer));
    }

    public AutoDIRConfig config() { return models.config(); }

    /** The backends actually in use, e.g. "clip=cpu,vae=cuda,unet=cuda,scm=cuda". */
    public String backends() { return backends.describe(); }

    /** Restores image [1, 3, H, W] in [-1, 1]; observer may be null. */
    public Restorer.Outcome restore(FloatTensor image, RestoreOptions options, Restorer.Observer observer) {
        lock.lock();
        try {
            checkOpen();
            return restorer.restore(image, options, null, observer);
        } finally {
            lock.unlock();
        }
    }

    /** Restores a decoded image. */
    public Restorer.Outcome restore(RgbImage image, RestoreOptions options) {
        return restore(image.toTensor(), options, null);
    }

    /** BIQA of image [1, 3, H, W] in [-1, 1]: a probability per class of {@link BIQA#CLASSES}. */
    public BIQA.Result assess(FloatTensor image) {
        lock.lock();
        try {
            checkOpen();
            return restorer.assess(image);
        } finally {
            lock.unlock();
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the engine is closed");
    }

    @Override public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            try {
                restorer.close();
                backends.close();
            } finally {
                models.close();
            }
        } finally {
            lock.unlock();
        }
    }
}
