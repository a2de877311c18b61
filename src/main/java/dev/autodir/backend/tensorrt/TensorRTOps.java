package dev.autodir.backend.tensorrt;

import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.ForwardingOps;
import dev.autodir.backend.Network;
import dev.autodir.backend.Precision;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.cuda.CudaInterop;
import dev.autodir.backend.cuda.CudaOps;
import dev.autodir.backend.onnx.ExportedModel;
import dev.autodir.backend.onnx.QuantPlan;
import dev.autodir.backend.onnxruntime.ExportCache;
import dev.autodir.backend.record.Graph;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tensorrt backend: the cuda backend (float32 storage) for every operation, and TensorRT engines for compiled
 * networks. {@link #compile} goes export → cache → engine:
 * <ol>
 *   <li>the network's recipe ({@link EngineRecipes}) and engine precision ({@link TensorRTSettings#precisionFor});</li>
 *   <li>its ONNX export ({@code OnnxExporter}) in the engine cache's {@code onnx/} folder, reused while exporter,
 *       network, shapes, graph and weights hash are unchanged (the onnxruntime backend's {@link ExportCache});</li>
 *   <li>the engine key ({@link EngineKey}: graph and weights hashes, I/O, profile, precision, builder settings,
 *       TensorRT version, GPU) and a cache lookup that verifies the plan's sidecar ({@link EngineCache});</li>
 *   <li>on a miss, a build through TensorRT's ONNX parser ({@link EngineBuilder}, announced on the notices stream with
 *       the reason of the miss);</li>
 *   <li>{@link TensorRTNetwork#open}: load, I/O check against the specs, context and buffers on the cuda backend.</li>
 * </ol>
 * Engines run on the cuda backend's stream and device tensors, so a stage's inputs and outputs never leave the
 * device. Engine I/O is float32: under {@code --precision fp16} the engines compute in fp16 inside while the
 * operations around them (sampler, guidance) stay float32.
 *
 * <p>Not verified: TensorRT is installed on no machine this project builds, tests or benchmarks on.
 */
public final class TensorRTOps extends ForwardingOps {
    private final CudaOps cuda;
    private final EnginePrecision runPrecision;
    private final TensorRTSettings settings;
    private final EngineRecipes recipes;
    private final Map<Path, ExportCache> exports = new LinkedHashMap<>();
    private QuantPlan plan;
    private final PrintStream notices;
    private final TensorRTLibrary lib;
    private final DeviceIdentity device;
    private boolean closed;

    private TensorRTOps(CudaOps cuda, EnginePrecision runPrecision, TensorRTSettings settings, EngineRecipes recipes, PrintStream notices) {
        super(cuda);
        this.cuda = cuda;
        this.runPrecision = runPrecision;
        this.settings = settings;
        this.recipes = recipes;
        this.notices = notices;
        this.lib = TensorRTLibrary.get();
        CudaInterop.bind(cuda);
        this.device = new DeviceIdentity(lib.tensorrtVersion, lib.onnxParserVersion, CudaInterop.deviceName(cuda), CudaInterop.computeCapability(cuda));
    }

    /**
     * Starts the backend (check {@link TensorRTAvailability#unavailableReason()} first): a float32 cuda backend, the
     * TensorRT libraries, the recipes.
     *
     * @param precision the run's precision ({@code --precision}): fp16 builds fp16 engines unless the settings or a
     *                  recipe pin another
     */
    public static TensorRTOps open(Precision precision, TensorRTSettings settings, PrintStream notices) {
        return open(precision, settings, settings.loadRecipes(), notices);   // a bad recipes file fails before the GPU is touched
    }

    /** As {@link #open(Precision, TensorRTSettings, PrintStream)} with recipes already read. */
    public static TensorRTOps open(Precision precision, TensorRTSettings settings, EngineRecipes recipes, PrintStream notices) {
        CudaOps cuda = new CudaOps(Precision.FP32);
        try {
            return new TensorRTOps(cuda, EnginePrecision.of(precision), settings, recipes, notices);
        } catch (RuntimeException | Error e) {
            cuda.close();
            throw e;
        }
    }

    @Override public String name() { return "tensorrt"; }

    /**
     * The run's precision, which the engines are built in unless a recipe pins another or
     * {@code -Dautodir.tensorrt.precision} overrides it ({@link #describe()} says which); the operations outside the
     * engines store float32.
     */
    @Override public Precision precision() { return runPrecision == EnginePrecision.FP16 ? Precision.FP16 : Precision.FP32; }

    @Override public String describe() {
        return "tensorrt backend: TensorRT " + device.tensorrtVersion() + " on " + device.gpuName() + " (sm " + device.computeCapability()
                + "), recipes " + recipes.source() + ", engine precision " + (settings.precision() != null ? settings.precision().lower()
                : runPrecision.lower() + " unless a recipe pins one") + "; operations outside engines on " + cuda.describe();
    }

    public DeviceIdentity device() { return device; }

    /** The calibration INT8 / FP8 engines quantize with (their QDQ export); null: float engines only. */
    public TensorRTOps withQuantization(QuantPlan plan) {
        this.plan = plan;
        return this;
    }

    @Override public CompiledNetwork compile(Network network) {
        if (closed) throw new IllegalStateException("the tensorrt backend is closed");
        EngineRecipe recipe = recipes.recipe(network.name());
        if (recipe.profile() != null) recipe.profile().check(network.name(), network.inputs());
        EnginePrecision precision = settings.precisionFor(recipe, runPrecision);
        EngineCache cache = new EngineCache(settings.cacheDirFor(network.weights()));
        if (precision.quantized() && plan == null) {
            throw new IllegalArgumentException(network.name() + ": a " + precision.lower() + " engine needs a calibration (autodir calibrate)");
        }
        String unsupported = precision.unsupportedReason(device.computeCapability());
        if (unsupported != null) throw new IllegalArgumentException(network.name() + ": " + unsupported);
        ExportedModel model = exports.computeIfAbsent(cache.directory(), d -> exportCache(cache.exportsDirectory()))
                .get(Graph.record(network), precision.quantized() ? plan : null).model();
        EngineKey key = engineKey(network, model, recipe, precision, device);
        EngineCache.Lookup found = settings.rebuild() ? new EngineCache.Lookup(null, "-Dautodir.tensorrt.rebuild=true") : cache.lookup(key);
        if (!found.hit()) {
            if (notices != null) {
                notices.println("autodir: tensorrt: building the " + network.name() + " engine (" + precision.lower() + ", optimization level "
                        + recipe.optimizationLevel() + ") into " + cache.directory() + ": " + found.missReason());
            }
            CudaInterop.bind(cuda);
            EngineBuilder.build(lib, BuildConfig.of(key, model.model(), recipe.timingCache() ? cache.timingCacheFile(device) : null), cache, key);
            found = cache.lookup(key);
            if (!found.hit()) throw new IllegalStateException(network.name() + ": the engine just built does not verify: " + found.missReason());
        }
        return TensorRTNetwork.open(lib, cuda, network, key, found.plan(), settings.cudaGraph());
    }

    /**
     * The cache key of {@code network}'s engine built from {@code model} (the export must carry the network's inputs).
     */
    /**
     * The exports TensorRT builds from: every attention whole (TensorRT fuses the MatMul-Softmax-MatMul pattern into its
     * own attention kernels; the query-row blocks that keep ONNX Runtime's memory bounded would only hide it).
     */
    static ExportCache exportCache(Path dir) { return new ExportCache(dir, dev.autodir.backend.onnx.OnnxExporter.WHOLE_ATTENTION); }

    static EngineKey engineKey(Network network, ExportedModel model, EngineRecipe recipe, EnginePrecision precision, DeviceIdentity device) {
        List<TensorSpec> in = network.inputs();
        if (!model.inputs().equals(in)) {
            throw new IllegalStateException(network.name() + ": the ONNX export has inputs " + model.inputs() + ", the network " + in);
        }
        if (!model.network().equals(network.name())) {
            throw new IllegalStateException(network.name() + ": the ONNX export is of network " + model.network());
        }
        Path graph = model.model();
        return new EngineKey(network.name(), CacheFiles.sha256(graph), model.weightsHash(), in, model.outputs(), recipe.profile(), precision,
                recipe.optimizationLevel(), recipe.workspaceBytes(), recipe.tf32(), device);
    }

    /** Closes the cuda backend it owns (compiled networks are closed by their owner, e.g. the pipeline's NetworkCache). */
    @Override public void close() {
        if (closed) return;
        closed = true;
        try {
            for (ExportCache e : exports.values()) e.close();   // the exports stay: the cache folder is the user's
        } finally {
            cuda.close();
        }
    }
}
