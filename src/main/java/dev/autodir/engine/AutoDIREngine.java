package dev.autodir.engine;

import dev.autodir.backend.BackendException;
import dev.autodir.backend.BackendReport;
import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Precision;
import dev.autodir.compare.EngineSpec;
import dev.autodir.compare.Engines;
import dev.autodir.image.RgbBytes;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageWriter;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.Cancellation;
import dev.autodir.pipeline.ColorCorrection;
import dev.autodir.pipeline.ProgressListener;
import dev.autodir.pipeline.ProgressTracker;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.Calibrator;
import dev.autodir.quant.QuantFormat;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.awt.image.BufferedImage;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The AutoDIR engine for programs: load once, restore many images.
 *
 * <pre>{@code
 * AutoDIREngine.Settings settings = AutoDIREngine.Settings.builder(Path.of("autodir.ckpt")).backends("cuda").build();
 * try (AutoDIREngine engine = AutoDIREngine.open(settings)) {
 *     BufferedImage restored = engine.restore(ImageIO.read(file), RestoreOptions.defaults().withSteps(50), null, null);
 * }
 * }</pre>
 *
 * <p>Images go in and out as {@link BufferedImage}s, as interleaved 8-bit RGB in a {@link java.nio.ByteBuffer}
 * ({@link RgbBytes}), as decoded {@link RgbImage}s, or as [1, 3, H, W] tensors in [-1, 1].
 *
 * <p>Cancellation: every restore checks its {@link Cancellation} token (may be null) and its thread's interrupt
 * flag before each stage and after each sampling step, so {@code Future.cancel(true)} on a restore submitted to an
 * executor stops it within one step or stage. A cancelled restore throws {@link CancellationException} and frees
 * what it held on the backends: the engine stays usable.
 *
 * <p>Progress: a {@link ProgressListener} receives an event at the start of every stage (BIQA or the prompt's
 * encoding, VAE encode, sampling, VAE decode, SCM), after every sampling step and at the end of every pass, with an
 * estimate of the time left in the pass. {@link Restorer.Observer} sees the intermediate tensors as well.
 *
 * <p>Thread safety: every public method may be called from any thread. Calls run one at a time (a lock
 * serialises them, because the backends hold per-call scratch memory); a second caller waits (an interrupt while
 * waiting cancels its restore). {@link #close()} waits for a running call, then frees the weights and every
 * backend's memory.
 */
public final class AutoDIREngine implements AutoCloseable {

    /**
     * How to open an engine; {@link #builder(Path)} names each setting, {@link #of(Path)} takes the defaults.
     *
     * @param weights       the AutoDIR checkpoint (.ckpt or .safetensors), or {@code random:tiny} / {@code random:official}
     *                      for seeded random weights of a tiny model of the official structure or of the official sizes
     * @param config        an official-style YAML for what shapes cannot tell, or null for the official values
     * @param tokenizer     CLIP BPE vocabulary (.txt.gz, or a directory / file of a HF vocab.json + merges.txt pair),
     *                      or null for the vocabulary carried in the jar
     * @param backends      which backend runs each stage (null: cpu for all)
     * @param precision     storage precision of the stages whose backend offers it (null: fp32; cpu is fp32 only)
     * @param strictBackend fail with a {@link dev.autodir.backend.BackendException} instead of falling back to cpu
     *                      when a backend cannot start, or when no stage's backend offers {@code precision}
     * @param quantization  an INT8 / FP8 engine from a calibration (null: float); see {@link Quantization}
     */
    public record Settings(Path weights, Path config, Path tokenizer, BackendSpec backends, Precision precision,
                           boolean strictBackend, Quantization quantization) {
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
            if (quantization != null) {
                if (precision != Precision.FP32) {
                    throw new IllegalArgumentException("precision: " + quantization.format() + " replaces the float precision ("
                            + precision.lower() + " was given too); an INT8/FP8 engine keeps what it does not quantize in its own float precision");
                }
                String one = backends.unet();
                if (!backends.equals(BackendSpec.all(one))) {
                    throw new IllegalArgumentException("backends: an " + quantization.format() + " engine runs one backend for every stage"
                            + " (cpu, onnxruntime, tensorrt or cuda), not " + backends);
                }
            }
        }

        /** Without strict backends (the form before the builder; prefer {@link #builder(Path)}). */
        public Settings(Path weights, Path config, Path tokenizer, BackendSpec backends, Precision precision) {
            this(weights, config, tokenizer, backends, precision, false, null);
        }

        /** A float engine (the form before quantized engines; prefer {@link #builder(Path)}). */
        public Settings(Path weights, Path config, Path tokenizer, BackendSpec backends, Precision precision, boolean strictBackend) {
            this(weights, config, tokenizer, backends, precision, strictBackend, null);
        }

        /** "int8" / "fp8" for a quantized engine, else the float precision ("fp32", "fp16"). */
        public String precisionLabel() { return quantization != null ? quantization.format().toString() : precision.lower(); }

        /** The checkpoint with every default: official config, the jar's tokenizer, cpu, fp32. */
        public static Settings of(Path weights) { return builder(weights).build(); }

        public static Builder builder(Path weights) { return new Builder(weights); }
    }

    /**
     * An INT8 or FP8 engine: the calibrated convolution and linear layers run quantized (activations per tensor from
     * the calibration's ranges, weights per output channel), the rest in the backend's float precision. The same
     * scheme on every backend: {@code cpu} simulates it in float32 (the reference, not faster), {@code onnxruntime}
     * runs the QDQ export, {@code tensorrt} builds INT8/FP8 engines from it, {@code cuda} runs the matrix work through
     * cuBLASLt. The engine is opened strictly: a backend that cannot run it is an error naming why, never a fallback
     * to another backend or precision.
     *
     * @param format      INT8 or FP8 (E4M3)
     * @param calibration the JSON of {@code autodir calibrate} for these weights (another checkpoint's is refused)
     */
    public record Quantization(QuantFormat format, Path calibration) {
        public Quantization {
            if (format == null) throw new IllegalArgumentException("quantization: a format (int8 or fp8) is required");
            if (calibration == null) {
                throw new IllegalArgumentException("quantization: " + format + " needs a calibration (the JSON of `autodir calibrate` for these weights)");
            }
            if (!Files.isRegularFile(calibration)) throw new IllegalArgumentException("calibration: " + calibration + " is not a readable file");
        }
    }

    /** Builds {@link Settings}; each setting left out keeps its default. */
    public static final class Builder {
        private final Path weights;
        private Path config;
        private Path tokenizer;
        private BackendSpec backends;
        private Precision precision;
        private boolean strictBackend;
        private Quantization quantization;

        private Builder(Path weights) { this.weights = weights; }

        /** An official-style YAML config (configs/generate.yaml format). */
        public Builder config(Path file) { this.config = file; return this; }

        /** A CLIP BPE vocabulary instead of the jar's. */
        public Builder tokenizer(Path path) { this.tokenizer = path; return this; }

        public Builder backends(BackendSpec spec) { this.backends = spec; return this; }

        /** As {@code --backend}: "cuda", or per stage, "unet=cuda,vae=cuda,scm=cuda,clip=cpu". */
        public Builder backends(String spec) { return backends(BackendSpec.parse(spec)); }

        public Builder precision(Precision p) { this.precision = p; return this; }

        /** Fail instead of falling back to cpu ({@link Settings#strictBackend()}). */
        public Builder strictBackend(boolean strict) { this.strictBackend = strict; return this; }

        /** An INT8 / FP8 engine from a calibration file ({@link Quantization}); null for a float engine. */
        public Builder quantization(Quantization q) { this.quantization = q; return this; }

        /** Shorthand for {@code quantization(new Quantization(format, calibration))}. */
        public Builder quantization(QuantFormat format, Path calibration) { return quantization(new Quantization(format, calibration)); }

        /** Validates and returns the settings (a bad path throws naming it). */
        public Settings build() { return new Settings(weights, config, tokenizer, backends, precision, strictBackend, quantization); }
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
            backends = s.quantization() == null ? Backends.create(s.backends(), s.precision(), s.strictBackend(), notices)
                    : openQuantized(s, models, notices);
        } catch (RuntimeException e) {
            models.close();
            throw e;
        }
        return new AutoDIREngine(models, backends, new Restorer(models, backends, tokenizer));
    }

    /** The quantized engine of {@code s} on its one backend, opened as {@code compare} opens it (strictly). */
    private static StageBackends openQuantized(Settings s, AutoDIRModels models, PrintStream notices) {
        Quantization q = s.quantization();
        Calibration cal = Calibration.read(q.calibration());       // its errors name the file
        try {
            Calibrator.checkWeights(cal, models.store());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("calibration " + q.calibration() + ": " + e.getMessage(), e);
        }
        try {
            return Engines.open(new EngineSpec(s.backends().unet(), q.format().toString()), cal, notices);
        } catch (Engines.Unavailable e) {
            throw new BackendException("the " + q.format() + " engine cannot start (no fallback to another backend or precision): " + e.getMessage());
        }
    }

    public AutoDIRConfig config() { return models.config(); }

    /** The backends actually in use, e.g. "clip=cpu,vae=cuda,unet=cuda,scm=cuda". */
    public String backends() { return backends.describe(); }

    /** Per stage: the backend asked for, the one running it, its precision, and why they differ after a fallback. */
    public BackendReport backendReport() { return backends.report(); }

    /** Restores image [1, 3, H, W] in [-1, 1]; observer may be null. The thread's interrupt cancels it. */
    public Restorer.Outcome restore(FloatTensor image, RestoreOptions options, Restorer.Observer observer) {
        return restore(image, options, observer, null, null);
    }

    /** Restores image [1, 3, H, W] in [-1, 1] with progress events and a cancellation token (both may be null). */
    public Restorer.Outcome restore(FloatTensor image, RestoreOptions options, ProgressListener progress, Cancellation cancel) {
        return restore(image, options, null, progress, cancel);
    }

    /**
     * Restores image [1, 3, H, W] in [-1, 1].
     *
     * @param observer sees every intermediate (may be null)
     * @param progress receives progress events (may be null)
     * @param cancel   stops the restore when cancelled (may be null; the thread's interrupt always does)
     * @throws CancellationException when cancelled; the engine stays usable
     */
    public Restorer.Outcome restore(FloatTensor image, RestoreOptions options, Restorer.Observer observer,
                                    ProgressListener progress, Cancellation cancel) {
        try {
            lock.lockInterruptibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("restore cancelled while waiting for the engine (the thread was interrupted)");
        }
        try {
            checkOpen();
            Cancellation.check(cancel, "before it started");
            Restorer.Observer inner = progress == null ? observer : new ProgressTracker(progress, observer, options.steps());
            try {
                return restorer.restore(image, options, null, Cancellation.guard(cancel, inner));
            } catch (RuntimeException | Error e) {
                abandon(e);
                throw e;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Restores a decoded image. */
    public Restorer.Outcome restore(RgbImage image, RestoreOptions options) {
        return restore(image.toTensor(), options, null);
    }

    /**
     * Restores a {@link BufferedImage} and returns {@link #finalOutput} as one, of the input's bit depth: 16 bits per
     * sample for a 16-bit input, else 8 ({@link BufferedImage#TYPE_3BYTE_BGR}). Alpha is dropped.
     */
    public BufferedImage restore(BufferedImage image, RestoreOptions options, ProgressListener progress, Cancellation cancel) {
        RgbImage in = RgbImage.of(image);
        Restorer.Outcome out = restore(in.toTensor(), options, null, progress, cancel);
        return RgbImageWriter.toBufferedImage(finalOutput(out, options), in.sourceBitDepth() == 16 ? 16 : 8);
    }

    /** Restores interleaved 8-bit RGB and returns {@link #finalOutput} as a new, tightly packed buffer of the same size. */
    public RgbBytes restore(RgbBytes image, RestoreOptions options, ProgressListener progress, Cancellation cancel) {
        Restorer.Outcome out = restore(image.toImage().toTensor(), options, null, progress, cancel);
        return RgbBytes.of(finalOutput(out, options));
    }

    /**
     * The restored image, what the CLI writes to NAME_restored: what the next pass would start from (the last SCM
     * result, or its VAE decode after "low resolution"), colour-corrected when the options ask; the input itself when
     * no pass ran.
     */
    public static FloatTensor finalOutput(Restorer.Outcome outcome, RestoreOptions options) {
        if (outcome.passes().isEmpty() || options.colorCorrect() == ColorCorrection.Mode.NONE) return outcome.finalImage();
        Restorer.PassResult last = outcome.passes().get(outcome.passes().size() - 1);
        return "low resolution".equals(last.chosenClass()) ? last.decodedOut() : last.resultOut();
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

    /**
     * After a restore stopped half-way: frees the current stage's transient memory on every backend, so that the next
     * call starts clean. A cancellation stops between network runs, so the compiled networks stay valid and are
     * kept; after a failure they are closed too (a failed run may have left one unusable) and compiled again on use.
     */
    private void abandon(Throwable cause) {
        try {
            for (Ops o : backends.distinct()) o.endStage();
            if (!(cause instanceof CancellationException)) restorer.close();
        } catch (RuntimeException | Error e) {
            cause.addSuppressed(e);
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
