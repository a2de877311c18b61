package dev.autodir.backend.cuda;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;
import org.bytedeco.cuda.cudart.CUstream_st;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The cuda backend: every {@link Ops} operation on one GPU, in FP32 or FP16 storage ({@link Precision}).
 *
 * <h2>Memory</h2>
 * Results are transient tensors bump-allocated from one scratch arena ({@link ScratchArena}) and freed all
 * at once by {@link #endStage()}; using one afterwards throws. Weights ({@link #weight}) are uploaded once in
 * the backend's precision into their own allocations and live until {@link #close()}; so do the caller's
 * {@link #persistent} and {@link #keep} tensors (until they are closed). {@link #close()} frees everything in reverse
 * order of creation. Host transfers go through one pinned staging buffer; {@link #download} synchronises.
 *
 * <h2>Dtypes</h2>
 * Every tensor carries its dtype. In FP16 mode {@link #upload} stores FP16, and {@link #uploadFloat32} keeps
 * data float32 for the places where half precision is too coarse (fractional timesteps; a sampler state
 * that stays float32 as under PyTorch autocast). The elementwise, layout, normalisation and sampler
 * operations accept either dtype (float32 result when any input is float32, else the input dtype); the
 * matrix-class operations (conv2d, linear, attention) convert a float32 input to the backend's precision
 * first, like autocast does.
 *
 * <h2>Capture and timing</h2>
 * {@link #compile} captures a whole network as a CUDA graph with its own memory ({@link CudaNetwork}; the graphs
 * feature); {@link #capture} records a body of operations once as a CUDA graph over the scratch arena
 * ({@link CudaGraph#replay}); the {@link StageTimer} from {@link #timer()} times stages with CUDA events.
 *
 * <h2>Code</h2>
 * This class checks operands and runs the elementwise, normalisation and layout operations; the rest is in its
 * parts: {@link CudaDevice} (device, stream, host transfers), {@link CudaMemory} (weights, scratch arena, persistent
 * tensors), {@link ConvolutionRouting} (convolution paths and their tuning), {@link AttentionRouting} and
 * {@link GraphCapture} (CUDA graphs).
 *
 * <p>One thread at a time may use an instance (it binds the device's primary context to the calling thread).
 */
public final class CudaOps implements Ops {

    /** How {@link #conv2d} runs. AUTO: cuDNN when it loads, else the implicit-GEMM (FP16) or direct kernel. */
    public enum ConvAlgorithm {
        AUTO, CUDNN, IGEMM, DIRECT;

        public static ConvAlgorithm parse(String s) {
            for (ConvAlgorithm a : values()) if (a.name().equalsIgnoreCase(s)) return a;
            throw new IllegalArgumentException("unknown convolution algorithm \"" + s + "\" (auto, cudnn, igemm, direct)");
        }
    }

    /**
     * @param precision  storage precision of activations and weights
     * @param arenaBytes initial scratch arena size (it grows to the largest stage after a stage spills)
     * @param conv       convolution implementation
     * @param device     CUDA device ordinal
     * @param forceNvrtc compile every kernel with NVRTC instead of loading the packaged fatbins
     */
    public record Options(Precision precision, long arenaBytes, ConvAlgorithm conv, int device, boolean forceNvrtc,
                          Features features) {
        public Options {
            if (precision == null) throw new IllegalArgumentException("precision is null");
            if (conv == null) throw new IllegalArgumentException("conv algorithm is null");
            if (features == null) throw new IllegalArgumentException("features is null");
            if (arenaBytes < (1L << 20)) throw new IllegalArgumentException("arenaBytes " + arenaBytes + " is below 1 MiB");
            if (device < 0) throw new IllegalArgumentException("device ordinal " + device + " is negative");
        }

        /**
         * Defaults, overridable by system properties: autodir.cuda.arenaMiB (4096), autodir.cuda.conv (auto),
         * autodir.cuda.device (0), autodir.cuda.nvrtc (false), and the {@link Features} properties.
         */
        public static Options defaults(Precision precision) {
            return new Options(precision, Long.getLong("autodir.cuda.arenaMiB", 4096L) << 20,
                    ConvAlgorithm.parse(System.getProperty("autodir.cuda.conv", "auto")),
                    Integer.getInteger("autodir.cuda.device", 0), Boolean.getBoolean("autodir.cuda.nvrtc"),
                    Features.fromProperties());
        }

        public Options withArenaBytes(long bytes) { return new Options(precision, bytes, conv, device, forceNvrtc, features); }

        public Options withConv(ConvAlgorithm c) { return new Options(precision, arenaBytes, c, device, forceNvrtc, features); }

        public Options withForceNvrtc(boolean f) { return new Options(precision, arenaBytes, conv, device, f, features); }

        public Options withFeatures(Features f) { return new Options(precision, arenaBytes, conv, device, forceNvrtc, f); }
    }

    static final int THREADS = CudaDevice.THREADS;
    /** group_norm.cu's APPLY_CHUNK: elements of a group normalised by one block. */
    static final int GROUP_NORM_APPLY_CHUNK = 4096;
    private static final long CUBLAS_WORKSPACE_BYTES = 32L << 20;
    /** OpenAI CLIP image normalisation (CLIPImageProcessor image_mean / image_std). */
    public static final float[] CLIP_MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    public static final float[] CLIP_STD = {0.26862954f, 0.26130258f, 0.27577711f};

    private final Options options;
    private final Precision precision;
    private CudaDevice device;
    private Launcher launcher;
    private int multiprocessors;
    private CudaMemory memory;
    private Workspace cudnnWorkspace;
    private ConvolutionRouting convolutions;
    private AttentionRouting attentions;
    private GraphCapture graphs;
    private Matmul matmul;
    private final List<StageTimer> timers = new ArrayList<>();
    private boolean closed;
    /**
     * With -Dautodir.cuda.fp32Residual=true, FP16 mode keeps residual sums ({@link #add}) in float32, as PyTorch
     * autocast effectively does. Off by default: on the H200 it changed the set-A UNet's FP16 error by less than 1%
     * (4.86e-3 vs 4.82e-3) and cost 4% of a UNet step (10.97 vs 10.51 ms).
     */
    private final boolean fp32Residual = Boolean.parseBoolean(System.getProperty("autodir.cuda.fp32Residual", "false"));

    public CudaOps(Precision precision) {
        this(Options.defaults(precision));
    }

    public CudaOps(Options options) {
        this.options = options;
        this.precision = options.precision();
        boolean ok = false;
        try {
            device = new CudaDevice(options.device(), options.forceNvrtc());
            launcher = device.launcher();
            multiprocessors = device.multiprocessors;
            memory = new CudaMemory(this, device, options.arenaBytes());
            graphs = new GraphCapture(this, device, memory, this::releaseRetiredWorkspaces);
            cudnnWorkspace = new Workspace("cuDNN workspace", new ScratchArena.Allocator() {
                @Override public long allocate(long bytes) { return DeviceMemory.rawAllocate(bytes, "cuDNN workspace"); }

                @Override public void free(long address) { DeviceMemory.rawFree(address, "cuDNN workspace"); }
            }, graphs::alive);
            convolutions = new ConvolutionRouting(this, device, memory, options, cudnnWorkspace);
            attentions = new AttentionRouting(this, device, memory, options);
            ok = true;
        } finally {
            if (!ok) closeAll(false);
        }
    }

    // ---- identity and extras -------------------------------------------------------------------

    @Override public String name() { return "cuda"; }

    @Override public Precision precision() { return precision; }

    public Options options() { return options; }

    /** Device, versions, precision, arena, where each loaded kernel module came from, and the convolution choices. */
    @Override
    public String describe() {
        enter("describe");
        StringBuilder s = new StringBuilder();
        s.append("cuda backend ").append(precision).append(" on ").append(device.describe());
        if (matmul != null) s.append(", cuBLASLt ").append(Matmul.version());
        s.append(convolutions.describe());
        ScratchArena arena = memory.arena();
        s.append(", arena ").append(arena.capacity() >> 20).append(" MiB (high water ").append(arena.highWater() >> 20).append(" MiB)");
        s.append(", kernels ").append(device.kernelOrigins());
        s.append(", unverified features ").append(options.features().describe());
        String conv = convChoices();
        if (!conv.isEmpty()) s.append("\nconvolution choices (features convIm2col / convGraph, timed against cuDNN on first use):\n").append(conv);
        return s.toString();
    }

    /** Kernel launches so far (graph replays count once each as zero: they launch nothing from Java). */
    public long launches() { return launcher.launches(); }

    /** The kernel function launched last (tests check that a shape reaches the kernel variant meant for it). */
    String lastKernelLaunched() { return launcher.lastFunction(); }

    @Override
    public void synchronize() {
        enter("synchronize");
        device.synchronize("synchronize");
    }

    CUstream_st stream() { return device.stream(); }

    ScratchArena arena() { return memory.arena(); }

    CudaMemory memory() { return memory; }

    CudaDevice device() { return device; }

    ConvolutionRouting convolutions() { return convolutions; }

    AttentionRouting attentions() { return attentions; }

    // ---- data movement ---------------------------------------------------------------------------

    @Override
    public Tensor upload(FloatTensor host) {
        return uploadAs(host, precision, "upload");
    }

    /** A float32 device copy of {@code host}, whatever the backend's precision. */
    @Override
    public CudaTensor uploadFloat32(FloatTensor host) {
        return uploadAs(host, Precision.FP32, "uploadFloat32");
    }

    private CudaTensor uploadAs(FloatTensor host, Precision dtype, String op) {
        enter(op);
        notCapturing(op);
        CudaTensor out = alloc(dtype, host.shape());
        device.copyFromHost(host.data(), out.address(op), dtype, op);
        return out;
    }

    @Override
    public Tensor upload(IntTensor host) {
        String op = "upload(int32)";
        enter(op);
        notCapturing(op);
        CudaTensor out = memory.allocInt(host.shape());
        device.copyIntsFromHost(host.data(), out.address(op), op);
        return out;
    }

    @Override
    public IntTensor downloadInts(Tensor x) {
        String op = "downloadInts";
        enter(op);
        notCapturing(op);
        CudaTensor c = ti(x, op, "x");
        return new IntTensor(device.downloadInts(c.address(op), c.numel(), op), c.shape());
    }

    /** A persistent device copy (same dtype) that outlives endStage() and graph replays; the caller closes it. */
    @Override
    public Tensor keep(Tensor x) {
        String op = "keep";
        enter(op);
        notCapturing(op);
        CudaTensor c = tAny(x, op, "x");
        CudaTensor k = memory.persistent(c.dtype(), c.isInteger(), c.shape());
        device.copyOnDevice(k.address(op), c.address(op), c.bytes());
        return k;
    }

    /** Overwrites {@code dst} (same element count) with host data; not allowed while capturing. */
    public void uploadInto(Tensor dst, FloatTensor host) {
        String op = "uploadInto";
        enter(op);
        notCapturing(op);
        CudaTensor d = t(dst, op, "dst");
        if (d.numel() != host.numel()) {
            throw new IllegalArgumentException(op + ": dst " + Arrays.toString(d.shapeRef()) + " and host "
                    + Arrays.toString(host.shape()) + " differ in element count");
        }
        device.copyFromHost(host.data(), d.address(op), d.dtype(), op);
    }

    @Override
    public FloatTensor download(Tensor x) {
        String op = "download";
        enter(op);
        notCapturing(op);
        CudaTensor c = t(x, op, "x");
        return new FloatTensor(device.download(c.address(op), c.dtype(), c.numel(), op), c.shape());
    }

    @Override
    public Tensor weight(WeightStore store, String key) {
        enter("weight");
        return memory.weight(store, key, precision, graphs.capturing());
    }

    /** A tensor owned by the caller (not transient): valid until its {@link Tensor#close()} or {@link #close()}. */
    public CudaTensor persistent(Precision dtype, int... shape) {
        String op = "persistent";
        enter(op);
        notCapturing(op);
        return memory.persistent(dtype, false, shape);
    }

    /** dst ← src (same element count; converts between dtypes). Allowed inside a capture. */
    public void copyInto(Tensor dst, Tensor src) {
        String op = "copyInto";
        enter(op);
        CudaTensor d = t(dst, op, "dst"), s = t(src, op, "src");
        if (d.numel() != s.numel()) {
            throw new IllegalArgumentException(op + ": dst " + Arrays.toString(d.shapeRef()) + " and src "
                    + Arrays.toString(s.shapeRef()) + " differ in element count");
        }
        convertRaw(s.address(op), s.dtype(), d.address(op), d.dtype(), s.numel());
    }

    void releasePersistent(CudaTensor t, DeviceMemory mem) {
        if (!closed) memory.releasePersistent(mem);
    }

    /** True when the allocation was the top of the arena and is given back. */
    boolean releaseTransient(ScratchArena.Allocation a) {
        return !closed && memory.release(a);
    }

    @Override
    public void endStage() {
        enter("endStage");
        if (graphs.capturing()) throw new IllegalStateException("endStage() inside a CUDA graph capture");
        memory.endStage();
    }

    @Override
    public Tensor reshape(Tensor x, int... shape) {
        enter("reshape");
        CudaTensor c = tAny(x, "reshape", "x");
        return c.view(Shapes.reshape(c.shapeRef(), shape));
    }


    // ---- dense layers (convolutions: ConvolutionRouting) ----------------------------------------------------

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, int groups) {
        enter("conv2d");
        return convolutions.conv2d(x, w, bias, stride, padding, groups);
    }

    /** Makes every eligible convolution use {@code choice} without timing (null: time per shape again); for tests. */
    void forceConvChoice(ConvAutotune.Choice choice) { convolutions.forceConvChoice(choice); }

    /**
     * The per-shape decisions of the convIm2col / convGraph features, one line each: shape, the path used and the
     * median times of cuDNN and of each candidate that decided it (and why any was excluded); empty when both
     * features are off or no shape was timed yet.
     */
    public String convChoices() { return convolutions.convChoices(); }

    /** The convolution implementation this call uses (AUTO resolved). */
    ConvAlgorithm convAlgorithm() { return convolutions.convAlgorithm(); }

    /** conv2d_depthwise.cu's grid and shared bytes ({@link ConvolutionRouting#depthwiseLaunch}; the kernel tests call it here). */
    static long[] depthwiseLaunch(int batch, int cin, int cout, int groups, int kh, int kw, int stride, int ho, int wo) {
        return ConvolutionRouting.depthwiseLaunch(batch, cin, cout, groups, kh, kw, stride, ho, wo);
    }

    /** cuBLASLt, created on first use (never inside a capture: the warm-up creates it). */
    Matmul matmul() {
        if (matmul == null) {
            if (graphs.capturing()) throw new IllegalStateException("cuBLASLt first used inside a CUDA graph capture; run the body once first");
            matmul = new Matmul(CUBLAS_WORKSPACE_BYTES);
        }
        return matmul;
    }

    @Override
    public Tensor linear(Tensor xt, Tensor wt, Tensor bt) {
        String op = "linear";
        enter(op);
        CudaTensor x = cast(xt, op, "x"), w = cast(wt, op, "weight"), b = bt == null ? null : cast(bt, op, "bias");
        int[] shape = Shapes.linear(x.shapeRef(), w.shapeRef(), b == null ? null : b.shapeRef());
        int in = w.dim(1), out = w.dim(0);
        long m = in == 0 ? 0 : x.numel() / in;
        if (m > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": " + m + " rows");
        CudaTensor y = alloc(precision, shape);
        if (m == 0 || out == 0) return y;
        if (in == 0) throw new IllegalArgumentException(op + ": zero input features");
        matmul().linear(device.stream(), precision, x.address(op), w.address(op), b == null ? 0 : b.address(op), y.address(op), (int) m, out, in);
        return y;
    }

    // ---- normalisation -------------------------------------------------------------------------

    @Override
    public Tensor groupNorm(Tensor xt, int groups, Tensor gt, Tensor bt, float eps, boolean silu) {
        String op = "groupNorm";
        enter(op);
        CudaTensor x = t(xt, op, "x"), gamma = t(gt, op, "gamma"), beta = t(bt, op, "beta");
        Shapes.groupNorm(x.shapeRef(), groups, gamma.shapeRef(), beta.shapeRef());
        int batch = x.dim(0), c = x.dim(1);
        CudaTensor y = alloc(x.dtype(), x.shapeRef());
        long plane = (long) batch * c == 0 ? 0 : x.numel() / ((long) batch * c);
        long groupLen = (long) (c / groups) * plane;
        long bg = (long) batch * groups;
        if (groupLen == 0 || bg == 0) return y;
        if (bg > 65535) throw new IllegalArgumentException(op + ": batch x groups " + bg + " exceeds 65535");
        int splits = (int) Math.max(1, Math.min(128, groupLen / 8192));
        CudaTensor partial = alloc(Precision.FP32, (int) (bg * splits * 3));
        if (groupNormFastApplies(x, y, plane, groupLen, op)) {
            launcher.kernel(Kernel.GROUP_NORM_STATS_FAST).ptr(x, op).i32(x.dtype().halfFlag()).ptr(partial, op).i64(groupLen).i32(splits)
                    .launch(splits, bg, 1, THREADS, 1, 1, 0);
            launcher.kernel(Kernel.GROUP_NORM_APPLY_FAST).ptr(x, op).i32(x.dtype().halfFlag()).ptr(partial, op).i32(splits)
                    .ptr(gamma, op).i32(gamma.dtype().halfFlag()).ptr(beta, op).i32(beta.dtype().halfFlag())
                    .ptr(y, op).i64(groupLen).i32((int) plane).i32(c / groups).i32(groups).f32(eps).i32(silu ? 1 : 0)
                    .launch((groupLen + GROUP_NORM_APPLY_CHUNK - 1) / GROUP_NORM_APPLY_CHUNK, bg, 1, THREADS, 1, 1, 0);
            partial.close();
            return y;
        }
        launcher.kernel(Kernel.GROUP_NORM_STATS).ptr(x, op).i32(x.dtype().halfFlag()).ptr(partial, op).i64(groupLen).i32(splits)
                .launch(splits, bg, 1, THREADS, 1, 1, 0);
        launcher.kernel(Kernel.GROUP_NORM_APPLY).ptr(x, op).i32(x.dtype().halfFlag()).ptr(partial, op).i32(splits)
                .ptr(gamma, op).i32(gamma.dtype().halfFlag()).ptr(beta, op).i32(beta.dtype().halfFlag())
                .ptr(y, op).i32(y.dtype().halfFlag()).i64(groupLen).i64(plane).i32(c / groups).i32(groups).f32(eps).i32(silu ? 1 : 0)
                .launch((groupLen + GROUP_NORM_APPLY_CHUNK - 1) / GROUP_NORM_APPLY_CHUNK, bg, 1, THREADS, 1, 1, 0);
        partial.close();   // the top of the arena: given back (later kernels reuse it in stream order)
        return y;
    }

    /** group_norm.cu's *_fast pair: the fastKernels feature, one dtype, whole 16-byte vectors per channel plane, aligned. */
    private boolean groupNormFastApplies(CudaTensor x, CudaTensor y, long plane, long groupLen, String op) {
        return options.features().fastKernels() && groupNormFastFits(x.dtype(), y.dtype(), plane, groupLen, x.address(op), y.address(op));
    }

    static boolean groupNormFastFits(Precision xType, Precision yType, long plane, long groupLen, long xAddress, long yAddress) {
        int vec = 16 / xType.bytes();
        return xType == yType && plane % vec == 0 && groupLen <= Integer.MAX_VALUE - GROUP_NORM_APPLY_CHUNK
                && xAddress % 16 == 0 && yAddress % 16 == 0;
    }

    @Override
    public Tensor layerNorm(Tensor xt, Tensor gt, Tensor bt, float eps) {
        String op = "layerNorm";
        enter(op);
        CudaTensor x = t(xt, op, "x"), gamma = t(gt, op, "gamma"), beta = t(bt, op, "beta");
        Shapes.layerNorm(x.shapeRef(), gamma.shapeRef(), beta.shapeRef());
        int c = x.dim(-1);
        CudaTensor y = alloc(x.dtype(), x.shapeRef());
        long rows = c == 0 ? 0 : x.numel() / c;
        if (rows == 0) return y;
        launcher.kernel(Kernel.LAYER_NORM).ptr(x, op).i32(x.dtype().halfFlag()).ptr(gamma, op).i32(gamma.dtype().halfFlag())
                .ptr(beta, op).i32(beta.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag()).i64(rows).i32(c).f32(eps)
                .launch((rows + 7) / 8, THREADS);
        return y;
    }

    @Override
    public Tensor layerNormChannels(Tensor xt, Tensor gt, Tensor bt, float eps) {
        String op = "layerNormChannels";
        enter(op);
        CudaTensor x = t(xt, op, "x"), gamma = t(gt, op, "gamma"), beta = t(bt, op, "beta");
        Shapes.layerNormChannels(x.shapeRef(), gamma.shapeRef(), beta.shapeRef());
        int c = x.dim(1);
        CudaTensor y = alloc(x.dtype(), x.shapeRef());
        long plane = (long) x.dim(2) * x.dim(3);
        if (y.numel() == 0) return y;
        if (fastKernels(x, gamma, beta, y) && plane <= FAST_MAX_ROW) {
            // block (X pixel vectors, 256 / X channel groups): the widest X that still gives 2 blocks per SM
            int v = fastWidth(op, plane, x, y), batch = x.dim(0);
            long[] l = layerNormChannelsFastLaunch(batch, plane, v, multiprocessors);
            launcher.kernel(Kernel.fast("layer_norm_channels", x.dtype(), v > 1)).ptr(x, op).ptr(gamma, op).ptr(beta, op).ptr(y, op)
                    .i32(batch).i32(c).i32((int) plane).f32(eps)
                    .launch(l[0], l[1], 1, (int) l[2], (int) l[3], 1, 0);
            return y;
        }
        launcher.kernel(Kernel.LAYER_NORM_CHANNELS).ptr(x, op).i32(x.dtype().halfFlag()).ptr(gamma, op).i32(gamma.dtype().halfFlag())
                .ptr(beta, op).i32(beta.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag()).i64(x.dim(0)).i32(c).i64(plane).f32(eps)
                .launch(blocks((long) x.dim(0) * plane), THREADS);
        return y;
    }


    // ---- attention (AttentionRouting) ------------------------------------------------------------------------

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, AttentionMask mask) {
        enter("attention");
        return attentions.attention(q, k, v, heads, scale, mask);
    }

    // ---- activations and elementwise ----------------------------------------------------------

    @Override public Tensor silu(Tensor x) { return unary(x, 1, 0, 0, "silu"); }

    @Override public Tensor quickGelu(Tensor x) { return unary(x, 3, 0, 0, "quickGelu"); }

    @Override public Tensor gelu(Tensor x) { return unary(x, 2, 0, 0, "gelu"); }

    @Override public Tensor scale(Tensor x, float s) { return unary(x, 0, s, 0, "scale"); }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        Shapes.clamp(x.shape(), lo, hi);
        return unary(x, 4, lo, hi, "clamp");
    }

    private Tensor unary(Tensor xt, int code, float a, float b, String op) {
        enter(op);
        CudaTensor x = t(xt, op, "x");
        CudaTensor y = alloc(x.dtype(), x.shapeRef());
        if (y.numel() == 0) return y;
        launcher.launch(unaryLaunch(x.address(op), x.dtype(), y.address(op), y.dtype(), x.numel(), code, a, b, blocks(x.numel())));
        return y;
    }

    /** unary.cu: y = f(x) for n elements, f by code (0 scale by a, 1 silu, 2 gelu, 3 quick_gelu, 4 clamp to [a, b], 5 exp). */
    static KernelLaunch unaryLaunch(Object x, Precision xType, Object y, Precision yType, long n, int code, float a, float b, long blocks) {
        return KernelLaunch.of(Kernel.UNARY, blocks, THREADS, x, xType.halfFlag(), y, yType.halfFlag(), n, code, a, b);
    }

    @Override
    public Tensor geglu(Tensor xt) {
        String op = "geglu";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        int[] shape = Shapes.lastHalf(op, x.shapeRef());
        int f = shape[shape.length - 1];
        CudaTensor y = alloc(x.dtype(), shape);
        if (y.numel() == 0) return y;
        long rows = x.numel() / (2L * f);
        launcher.kernel(Kernel.GEGLU).ptr(x, op).i32(x.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag()).i64(rows).i32(f)
                .launch(blocks(y.numel()), THREADS);
        return y;
    }

    @Override
    public Tensor simpleGate(Tensor xt) {
        String op = "simpleGate";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        int[] shape = Shapes.simpleGate(x.shapeRef(), null);
        CudaTensor y = alloc(x.dtype(), shape);
        if (y.numel() == 0) return y;
        long half = (long) shape[1] * shape[2] * shape[3];
        if (fastKernels(x, y) && half <= FAST_MAX_ROW) {
            int v = fastWidth(op, half, x, y);
            launchFastRows(launcher.kernel(Kernel.fast("simple_gate", x.dtype(), v > 1)).ptr(x, op).ptr(y, op).i32(shape[0]).i32((int) half),
                    shape[0], half, v);
            return y;
        }
        launcher.kernel(Kernel.SIMPLE_GATE).ptr(x, op).i32(x.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag())
                .i64(shape[0]).i64(half).launch(blocks(y.numel()), THREADS);
        return y;
    }

    @Override
    public Tensor add(Tensor at, Tensor bt) {
        String op = "add";
        enter(op);
        CudaTensor a = t(at, op, "a"), b = t(bt, op, "b");
        Shapes.add(a.shapeRef(), b.shapeRef());
        CudaTensor y = alloc(fp32Residual ? Precision.FP32 : promote(a, b), a.shapeRef());
        return binary(a, b, 0, op, y);
    }

    @Override
    public Tensor mul(Tensor at, Tensor bt) {
        String op = "mul";
        enter(op);
        CudaTensor a = t(at, op, "a"), b = t(bt, op, "b");
        Shapes.same(op, a.shapeRef(), b.shapeRef());
        return binary(a, b, 1, op);
    }

    private Tensor binary(CudaTensor a, CudaTensor b, int code, String op) {
        return binary(a, b, code, op, alloc(promote(a, b), a.shapeRef()));
    }

    private Tensor binary(CudaTensor a, CudaTensor b, int code, String op, CudaTensor y) {
        if (y.numel() == 0) return y;
        long rowLen = b.numel(), rows = a.numel() / rowLen;   // b repeats over a's leading dimensions
        if (fastKernels(a, b, y) && rowLen <= FAST_MAX_ROW && rows <= Integer.MAX_VALUE) {
            int v = fastWidth(op, rowLen, a, b, y);
            launchFastRows(launcher.kernel(Kernel.fast("binary", a.dtype(), v > 1)).ptr(a, op).ptr(b, op).ptr(y, op)
                    .i32((int) rows).i32((int) rowLen).i32(code), rows, rowLen, v);
            return y;
        }
        launcher.kernel(Kernel.BINARY).ptr(a, op).i32(a.dtype().halfFlag()).ptr(b, op).i32(b.dtype().halfFlag())
                .ptr(y, op).i32(y.dtype().halfFlag()).i64(a.numel()).i64(b.numel()).i32(code).launch(blocks(a.numel()), THREADS);
        return y;
    }

    @Override public Tensor addPerChannel(Tensor x, Tensor v) { return perChannel(x, v, 0, "addPerChannel"); }

    @Override public Tensor mulPerChannel(Tensor x, Tensor v) { return perChannel(x, v, 1, "mulPerChannel"); }

    private Tensor perChannel(Tensor xt, Tensor vt, int code, String op) {
        enter(op);
        CudaTensor x = t(xt, op, "x"), v = t(vt, op, "v");
        Shapes.perChannelOperand(op, x.shapeRef(), v.shapeRef());
        CudaTensor y = alloc(promote(x, v), x.shapeRef());
        perChannelRaw(x, v, y, code, op);
        return y;
    }

    void perChannelRaw(CudaTensor x, CudaTensor v, CudaTensor y, int code, String op) {
        long bc = (long) x.dim(0) * x.dim(1);   // v has B·C or C elements (checked by the caller)
        if (x.numel() == 0) return;
        long plane = x.numel() / bc;
        if (fastKernels(x, v, y) && plane <= FAST_MAX_ROW && bc <= Integer.MAX_VALUE) {
            int w = fastWidth(op, plane, x, y);
            launchFastRows(launcher.kernel(Kernel.fast("per_channel", x.dtype(), w > 1)).ptr(x, op).ptr(v, op).ptr(y, op)
                    .i32((int) bc).i32((int) plane).i32((int) v.numel()).i32(code), bc, plane, w);
            return;
        }
        launcher.launch(perChannelLaunch(x.address(op), x.dtype(), v.address(op), v.dtype(), y.address(op), y.dtype(), x.numel(), plane,
                v.numel(), code, blocks(x.numel())));
    }

    /** per_channel.cu: y = x (op) v[(i / plane) mod nv] for n elements, op 0 add, 1 multiply. */
    static KernelLaunch perChannelLaunch(Object x, Precision xType, Object v, Precision vType, Object y, Precision yType, long n, long plane,
                                         long nv, int code, long blocks) {
        return KernelLaunch.of(Kernel.PER_CHANNEL, blocks, THREADS, x, xType.halfFlag(), v, vType.halfFlag(), y, yType.halfFlag(), n, plane, nv, code);
    }

    // ---- fused forms (Ops defaults compose; with fastKernels one kernel each, not yet run on a GPU) ----------

    @Override
    public Tensor conv2dWithInputBias(Tensor xt, Tensor ibt, Tensor wt, Tensor bt, int stride, int padding, int groups) {
        if (ibt == null || !options.features().fastKernels()) return Ops.super.conv2dWithInputBias(xt, ibt, wt, bt, stride, padding, groups);
        enter("conv2dWithInputBias");
        Tensor y = convolutions.conv2dWithInputBias(xt, ibt, wt, bt, stride, padding, groups);
        return y != null ? y : Ops.super.conv2dWithInputBias(xt, ibt, wt, bt, stride, padding, groups);
    }


    @Override
    public Tensor addScaledPerChannel(Tensor at, Tensor xt, Tensor bt, Tensor st) {
        String op = "addScaledPerChannel";
        if (!options.features().fastKernels()) return Ops.super.addScaledPerChannel(at, xt, bt, st);
        enter(op);
        CudaTensor a = t(at, op, "a"), x = t(xt, op, "x"), s = t(st, op, "scale"), b = bt == null ? null : t(bt, op, "bias");
        Shapes.addScaledPerChannel(a.shapeRef(), x.shapeRef(), b == null ? null : b.shapeRef(), s.shapeRef());
        long plane = (long) x.dim(2) * x.dim(3), rows = (long) x.dim(0) * x.dim(1);
        boolean oneType = b == null ? fastKernels(a, x, s) : fastKernels(a, x, s, b);
        if (!oneType || plane > FAST_MAX_ROW || rows > Integer.MAX_VALUE) return Ops.super.addScaledPerChannel(at, xt, bt, st);
        CudaTensor y = alloc(x.dtype(), x.shapeRef());
        if (y.numel() == 0) return y;
        int v = fastWidth(op, plane, a, x, y);
        launchFastRows(launcher.kernel(Kernel.fast("per_channel_residual", x.dtype(), v > 1)).ptr(a, op).ptr(x, op)
                .ptr(b == null ? 0 : b.address(op)).ptr(s, op).ptr(y, op).i32((int) rows).i32((int) plane).i32(x.dim(1))
                .i32(b == null ? 0 : 1), rows, plane, v);
        return y;
    }

    @Override
    public Tensor simpleGate(Tensor xt, Tensor bt) {
        String op = "simpleGate";
        if (bt == null || !options.features().fastKernels()) return Ops.super.simpleGate(xt, bt);
        enter(op);
        CudaTensor x = t(xt, op, "x"), b = t(bt, op, "bias");
        Shapes.simpleGate(x.shapeRef(), b.shapeRef());
        int c = x.dim(1) / 2;
        long plane = (long) x.dim(2) * x.dim(3), rows = (long) x.dim(0) * c;
        if (!fastKernels(x, b) || plane > FAST_MAX_ROW || rows > Integer.MAX_VALUE) return Ops.super.simpleGate(xt, bt);
        CudaTensor y = alloc(x.dtype(), x.dim(0), c, x.dim(2), x.dim(3));
        if (y.numel() == 0) return y;
        int v = fastWidth(op, plane, x, y);
        launchFastRows(launcher.kernel(Kernel.fast("simple_gate_bias", x.dtype(), v > 1)).ptr(x, op).ptr(b, op).ptr(y, op)
                .i32((int) rows).i32(c).i32((int) plane), rows, plane, v);
        return y;
    }

    // ---- fastKernels helpers (Features.fastKernels: the *_fast_* kernels, not yet run on a GPU) -------------

    /** Longest row (plane, sample, repeat of b) the fast kernels index with 32-bit math, tile overshoot included. */
    private static final long FAST_MAX_ROW = 1L << 30;
    /** Vectors each thread of the row-wise fast kernels has in flight (their U). */
    private static final int FAST_UNROLL = 4;
    private static final int MAX_GRID_Y = 65535;

    /** Whether the fast kernels apply: the feature is on and every tensor has one dtype (the kernels are templated on it). */
    private boolean fastKernels(CudaTensor... ts) {
        if (!options.features().fastKernels()) return false;
        for (CudaTensor t : ts) if (t.dtype() != ts[0].dtype()) return false;
        return true;
    }

    /**
     * The fast kernels' access width: a 16-byte vector when every row of {@code rowLength} elements starts aligned
     * (the length a multiple of the vector, the vector-accessed tensors' addresses 16-byte aligned), else 1.
     */
    private static int fastWidth(String op, long rowLength, CudaTensor... vectorAccessed) {
        int v = Kernel.fastVectorWidth(vectorAccessed[0].dtype());
        if (rowLength % v != 0) return 1;
        for (CudaTensor t : vectorAccessed) if (t.address(op) % 16 != 0) return 1;
        return v;
    }

    /**
     * Launches a row-wise fast kernel (binary, per_channel, simple_gate): grid (tiles of a row, rows strided over
     * at most 65535), blockDim a multiple of 32 up to 256, small for short rows so few threads idle.
     */
    private static void launchFastRows(Launcher.Args args, long rows, long rowLength, int v) {
        long[] l = fastRowsLaunch(rows, rowLength, v);
        args.launch(l[0], l[1], 1, (int) l[2], 1, 1, 0);
    }

    /** The row-wise fast kernels' grid (x, y) and block size: {gx, gy, threads}. */
    static long[] fastRowsLaunch(long rows, long rowLength, int v) {
        long vectors = rowLength / v;
        int threads = (int) Math.min(THREADS, ceilDiv(ceilDiv(vectors, FAST_UNROLL), 32) * 32);
        return new long[] {ceilDiv(vectors, (long) threads * FAST_UNROLL), Math.min(rows, MAX_GRID_Y), threads};
    }

    /**
     * layer_norm_channels_fast's grid and block {gx, gy, bx, by}: blocks of bx pixel vectors × (256 / bx) channel groups,
     * bx the widest of 32, 16, 8, 4 that still gives 2 blocks per SM.
     */
    static long[] layerNormChannelsFastLaunch(int batch, long plane, int v, int multiprocessors) {
        long vectors = plane / v;
        int bx = 32;
        while (bx > 4 && batch * ceilDiv(vectors, bx) < 2L * multiprocessors) bx /= 2;
        return new long[] {ceilDiv(vectors, bx), Math.min(batch, MAX_GRID_Y), bx, THREADS / bx};
    }

    /**
     * global_avg_pool_fast's split {splits, chunk}: S chunks per plane so that planes × S gives 4 blocks per SM, each
     * chunk at least one vector per thread and a whole number of vectors.
     */
    static long[] globalAvgPoolFastSplit(long planes, long plane, int v, int multiprocessors) {
        long splits = Math.max(1, Math.min(ceilDiv(4L * multiprocessors, planes), ceilDiv(plane, (long) THREADS * v)));
        long chunk = ceilDiv(ceilDiv(plane, splits), v) * v;
        return new long[] {ceilDiv(plane, chunk), chunk};
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    // ---- resampling and layout ------------------------------------------------------------------

    @Override
    public Tensor upsampleNearest2x(Tensor xt) {
        String op = "upsampleNearest2x";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        CudaTensor y = alloc(x.dtype(), Shapes.upsampleNearest2x(x.shapeRef()));
        if (y.numel() == 0) return y;
        launcher.kernel(Kernel.UPSAMPLE_NEAREST2X).ptr(x, op).i32(x.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag())
                .i64((long) x.dim(0) * x.dim(1)).i32(x.dim(2)).i32(x.dim(3)).launch(blocks(y.numel()), THREADS);
        return y;
    }

    @Override
    public Tensor pixelShuffle(Tensor xt, int r) {
        String op = "pixelShuffle";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        CudaTensor y = alloc(x.dtype(), Shapes.pixelShuffle(x.shapeRef(), r));
        int c = y.dim(1);
        if (y.numel() == 0) return y;
        launcher.kernel(Kernel.PIXEL_SHUFFLE).ptr(x, op).i32(x.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag())
                .i64((long) x.dim(0) * c).i32(x.dim(2)).i32(x.dim(3)).i32(r).launch(blocks(y.numel()), THREADS);
        return y;
    }

    @Override
    public Tensor globalAvgPool(Tensor xt) {
        String op = "globalAvgPool";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        CudaTensor y = alloc(x.dtype(), Shapes.globalAvgPool(x.shapeRef()));
        long planes = (long) x.dim(0) * x.dim(1), plane = (long) x.dim(2) * x.dim(3);
        if (planes == 0) return y;
        if (fastKernels(x, y) && plane <= FAST_MAX_ROW && planes <= Integer.MAX_VALUE) {
            // S chunks per plane so that planes * S >= 4 blocks per SM, each chunk >= one vector per thread; with
            // S > 1 the float32 partial sums go to scratch and a second kernel adds them in a fixed order
            int v = fastWidth(op, plane, x);
            long[] split = globalAvgPoolFastSplit(planes, plane, v, multiprocessors);
            long splits = split[0], chunk = split[1];
            ScratchArena.Allocation partial = splits > 1 ? memory.allocate(4 * planes * splits) : null;
            launcher.kernel(Kernel.fast("global_avg_pool", x.dtype(), v > 1)).ptr(x, op).ptr(partial == null ? 0 : partial.address())
                    .ptr(y, op).i32((int) planes).i32((int) plane).i32((int) chunk)
                    .launch(splits, Math.min(planes, MAX_GRID_Y), 1, THREADS, 1, 1, 0);
            if (partial != null) {
                launcher.kernel(Kernel.GLOBAL_AVG_POOL_FINISH).ptr(partial.address()).ptr(y, op).i32(y.dtype().halfFlag())
                        .i32((int) planes).i32((int) splits).i32((int) plane).launch(ceilDiv(planes, THREADS / 32), THREADS);
                memory.release(partial);   // pops: nothing was allocated after it (later kernels on the stream run after these)
            }
            return y;
        }
        launcher.kernel(Kernel.GLOBAL_AVG_POOL).ptr(x, op).i32(x.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag())
                .i64(plane).launch(planes, THREADS);
        return y;
    }

    @Override
    public Tensor pad2d(Tensor xt, int top, int bottom, int left, int right) {
        String op = "pad2d";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        int[] shape = Shapes.pad2d(x.shapeRef(), top, bottom, left, right);
        return window(x, shape[2], shape[3], -top, -left, op);
    }

    @Override
    public Tensor crop2d(Tensor xt, int top, int left, int h, int w) {
        String op = "crop2d";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        Shapes.crop2d(x.shapeRef(), top, left, h, w);
        return window(x, h, w, top, left, op);
    }

    private Tensor window(CudaTensor x, int ho, int wo, int dy, int dx, String op) {
        CudaTensor y = alloc(x.dtype(), x.dim(0), x.dim(1), ho, wo);
        if (y.numel() == 0) return y;
        launcher.kernel(Kernel.WINDOW2D).ptr(x, op).i32(x.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag())
                .i64((long) x.dim(0) * x.dim(1)).i32(x.dim(2)).i32(x.dim(3)).i32(ho).i32(wo).i32(dy).i32(dx)
                .launch(blocks(y.numel()), THREADS);
        return y;
    }

    @Override
    public Tensor concat(List<Tensor> parts, int dim) {
        String op = "concat";
        enter(op);
        if (parts == null || parts.isEmpty()) throw Shapes.bad(op, "no tensors");
        List<CudaTensor> ts = new ArrayList<>();
        List<int[]> shapes = new ArrayList<>();
        for (int i = 0; i < parts.size(); i++) {
            ts.add(t(parts.get(i), op, "part " + i));
            shapes.add(ts.get(i).shapeRef());
        }
        int[] shape = Shapes.concat(shapes, dim);
        int rank = shape.length, d = dim, total = shape[d];
        CudaTensor y = alloc(promote(ts.toArray(new CudaTensor[0])), shape);
        long outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= shape[i];
        for (int i = d + 1; i < rank; i++) inner *= shape[i];
        long offset = 0;
        for (CudaTensor p : ts) {
            long count = p.dim(d);
            long n = outer * count * inner;
            if (n > 0) {
                launcher.kernel(Kernel.COPY_SLAB).ptr(p, op).i32(p.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag())
                        .i64(outer).i64(count).i64(inner).i64(count).i64(0).i64(total).i64(offset).launch(blocks(n), THREADS);
            }
            offset += count;
        }
        return y;
    }


    @Override
    public Tensor slice(Tensor xt, int dim, int from, int to) {
        String op = "slice";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        int[] shape = Shapes.slice(x.shapeRef(), dim, from, to);
        int rank = x.rank(), d = dim;
        CudaTensor y = alloc(x.dtype(), shape);
        if (y.numel() == 0) return y;
        long outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= shape[i];
        for (int i = d + 1; i < rank; i++) inner *= shape[i];
        launcher.kernel(Kernel.COPY_SLAB).ptr(x, op).i32(x.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag())
                .i64(outer).i64(to - from).i64(inner).i64(x.dim(d)).i64(from).i64(to - from).i64(0)
                .launch(blocks(y.numel()), THREADS);
        return y;
    }

    @Override
    public Tensor nchwToTokens(Tensor xt) {
        String op = "nchwToTokens";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        CudaTensor y = alloc(x.dtype(), Shapes.nchwToTokens(x.shapeRef()));
        int c = x.dim(1), hw = y.dim(1);
        transpose(x, y, c, hw, op);
        return y;
    }

    @Override
    public Tensor tokensToNchw(Tensor xt, int h, int w) {
        String op = "tokensToNchw";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        CudaTensor y = alloc(x.dtype(), Shapes.tokensToNchw(x.shapeRef(), h, w));
        transpose(x, y, x.dim(1), x.dim(2), op);
        return y;
    }

    private void transpose(CudaTensor x, CudaTensor y, int r, int s, String op) {
        if (y.numel() == 0) return;
        long gy = (r + 31L) / 32;
        if (gy > 65535) throw new IllegalArgumentException(op + ": " + r + " rows exceed the transpose kernel's grid");
        launcher.kernel(Kernel.TRANSPOSE).ptr(x, op).i32(x.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag()).i32(r).i32(s)
                .launch((s + 31L) / 32, gy, x.dim(0), 32, 8, 1, 0);
    }

    @Override
    public Tensor embedding(Tensor tableT, Tensor idsT) {
        String op = "embedding";
        enter(op);
        CudaTensor table = t(tableT, op, "table"), ids = ti(idsT, op, "ids");
        CudaTensor y = alloc(table.dtype(), Shapes.embedding(table.shapeRef(), ids.shapeRef()));
        if (y.numel() == 0) return y;
        launcher.launch(embeddingLaunch(table.address(op), table.dtype(), table.dim(0), table.dim(1), ids.address(op), ids.numel(),
                y.address(op), y.dtype(), blocks(y.numel())));
        return y;
    }

    @Override
    public Tensor gatherRows(Tensor xt, Tensor rowsT) {
        String op = "gatherRows";
        enter(op);
        CudaTensor x = t(xt, op, "x"), rows = ti(rowsT, op, "rows");
        CudaTensor y = alloc(x.dtype(), Shapes.gatherRows(x.shapeRef(), rows.shapeRef()));
        if (y.numel() == 0) return y;
        launcher.launch(gatherRowsLaunch(x.address(op), x.dtype(), x.dim(0), x.dim(1), x.dim(2), rows.address(op), y.address(op), y.dtype(),
                blocks(y.numel())));
        return y;
    }

    /** gather_rows.cu for embedding: y [count, c] = rows ids[i] of table [vocab, c] (zero rows for ids outside [0, vocab)). */
    static KernelLaunch embeddingLaunch(Object table, Precision tableType, int vocab, int c, Object ids, long count, Object y,
                                        Precision yType, long blocks) {
        return KernelLaunch.of(Kernel.GATHER_ROWS, blocks, THREADS, table, tableType.halfFlag(), ids, y, yType.halfFlag(), count, c,
                count, 0L, (long) vocab);
    }

    /** gather_rows.cu for gatherRows: y [b, c] = x [b, rows[b], c] of x [batch, n, c] (zero rows for rows outside [0, n)). */
    static KernelLaunch gatherRowsLaunch(Object x, Precision xType, int batch, int n, int c, Object rows, Object y, Precision yType,
                                         long blocks) {
        return KernelLaunch.of(Kernel.GATHER_ROWS, blocks, THREADS, x, xType.halfFlag(), rows, y, yType.halfFlag(), (long) batch, c,
                1L, (long) n, (long) n);
    }

    @Override
    public Tensor argmax(Tensor xt) {
        String op = "argmax";
        enter(op);
        CudaTensor x = tAny(xt, op, "x");
        int[] shape = Shapes.argmax(x.shapeRef());
        CudaTensor y = memory.allocInt(shape);
        if (shape[0] == 0) return y;
        launcher.launch(argmaxLaunch(x.address(op), x.isInteger() ? null : x.dtype(), y.address(op), shape[0], x.dim(1), blocks(shape[0])));
        return y;
    }

    /** argmax_rows.cu: y[r] = the first index of the largest of x [rows, n] (xType null: int32 x). */
    static KernelLaunch argmaxLaunch(Object x, Precision xType, Object y, long rows, int n, long blocks) {
        return KernelLaunch.of(Kernel.ARGMAX_ROWS, blocks, THREADS, x, xType == null ? 2 : xType.halfFlag(), y, rows, n);
    }

    @Override
    public Tensor softmax(Tensor xt) {
        String op = "softmax";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        int[] shape = Shapes.lastDim(op, x.shapeRef());
        int n = shape[shape.length - 1];
        CudaTensor y = alloc(x.dtype(), shape);
        if (y.numel() == 0) return y;
        CudaTensor s = x;
        if (x.dtype() != Precision.FP32) {                       // the kernel reads float32 scores
            s = alloc(Precision.FP32, shape);
            convertRaw(x.address(op), x.dtype(), s.address(op), Precision.FP32, x.numel());
        }
        launcher.launch(softmaxRowsLaunch(s.address(op), y.address(op), y.dtype(), x.numel() / n, n));
        return y;
    }

    /** softmax_rows.cu: p [rows, n] (pType) = the row softmax of float32 scores s; one block per row. */
    static KernelLaunch softmaxRowsLaunch(Object s, Object p, Precision pType, long rows, int n) {
        return KernelLaunch.of(Kernel.SOFTMAX_ROWS, rows, THREADS, s, p, pType.halfFlag(), n);
    }

    @Override
    public Tensor normalizeRows(Tensor xt) {
        String op = "normalizeRows";
        enter(op);
        CudaTensor x = t(xt, op, "x");
        int[] shape = Shapes.lastDim(op, x.shapeRef());
        int n = shape[shape.length - 1];
        CudaTensor y = alloc(x.dtype(), shape);
        if (y.numel() == 0) return y;
        launcher.launch(normalizeRowsLaunch(x.address(op), x.dtype(), y.address(op), y.dtype(), x.numel() / n, n));
        return y;
    }

    /** normalize_rows.cu: y = x / ‖x‖₂ per row of n; one block per row. */
    static KernelLaunch normalizeRowsLaunch(Object x, Precision xType, Object y, Precision yType, long rows, int n) {
        return KernelLaunch.of(Kernel.NORMALIZE_ROWS, rows, THREADS, x, xType.halfFlag(), y, yType.halfFlag(), n);
    }

    /** a [M, K] · b [K, N] row-major = column-major Cᶜ [N, M] = Bᶜ [N, K] · Aᶜ [K, M], no transposes. */
    @Override
    public Tensor matmul(Tensor at, Tensor bt) {
        String op = "matmul";
        enter(op);
        CudaTensor a = cast(at, op, "a"), b = cast(bt, op, "b");
        int[] shape = Shapes.matmul(a.shapeRef(), b.shapeRef());
        int m = shape[0], n = shape[1], k = a.dim(1);
        CudaTensor y = alloc(precision, shape);
        if (y.numel() == 0) return y;
        if (k == 0) throw new IllegalArgumentException(op + ": zero inner dimension");
        Matmul mm = matmul();
        matmulProduct((g, alpha, pa, pb, pd) -> mm.gemm(device.stream(), g, alpha, pa, pb, pd), precision, a.address(op), b.address(op),
                y.address(op), m, n, k);
        return y;
    }

    /**
     * The cuBLASLt call of matmul on byte addresses: row-major a [m, k] · b [k, n] → y [m, n] is, column-major,
     * Yᶜ [n, m] (ld n) = Bᶜ [n, k] (ld n) · Aᶜ [k, m] (ld k), no transposes (AttentionProductsTest runs it in float64).
     */
    static void matmulProduct(Matmul.GemmSink sink, Precision p, long a, long b, long y, int m, int n, int k) {
        sink.gemm(new Matmul.Gemm(p, p, false, false, n, m, k, n, k, n, 1, 0, 0, 0), 1f, b, a, y);
    }

    @Override public Tensor exp(Tensor x) { return unary(x, 5, 0, 0, "exp"); }

    /** x · s as a per-channel product over x viewed as one channel of numel elements. */
    @Override
    public Tensor mulScalar(Tensor xt, Tensor st) {
        String op = "mulScalar";
        enter(op);
        CudaTensor x = t(xt, op, "x"), s = t(st, op, "s");
        Shapes.scalar(op, x.shapeRef(), s.shapeRef());
        CudaTensor y = (CudaTensor) mulPerChannel(x.view(new int[] {1, 1, 1, Math.toIntExact(x.numel())}), s);
        return y.view(x.shape());
    }

    // ---- diffusion helpers -----------------------------------------------------------------------

    @Override
    public Tensor timestepEmbedding(Tensor tt, int dim) {
        String op = "timestepEmbedding";
        enter(op);
        CudaTensor t = t(tt, op, "t");
        CudaTensor y = alloc(precision, Shapes.timestepEmbedding(t.shapeRef(), dim));
        if (y.numel() == 0) return y;
        launcher.kernel(Kernel.TIMESTEP_EMBEDDING).ptr(t, op).i32(t.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag())
                .i32(t.dim(0)).i32(dim).launch(blocks(y.numel()), THREADS);
        return y;
    }

    @Override
    public Tensor cfgCombine(Tensor condT, Tensor imgCondT, Tensor uncondT, float sText, float sImg) {
        String op = "cfgCombine";
        enter(op);
        CudaTensor cond = t(condT, op, "cond"), img = t(imgCondT, op, "imgCond"), un = t(uncondT, op, "uncond");
        Shapes.same(op, cond.shapeRef(), img.shapeRef(), un.shapeRef());
        CudaTensor y = alloc(promote(cond, img, un), cond.shapeRef());
        if (y.numel() == 0) return y;
        launcher.kernel(Kernel.CFG_COMBINE).ptr(cond, op).i32(cond.dtype().halfFlag()).ptr(img, op).i32(img.dtype().halfFlag())
                .ptr(un, op).i32(un.dtype().halfFlag()).ptr(y, op).i32(y.dtype().halfFlag()).i64(y.numel()).f32(sText).f32(sImg)
                .launch(blocks(y.numel()), THREADS);
        return y;
    }

    @Override
    public Tensor eulerAncestralStep(Tensor zT, Tensor denT, Tensor noiseT, float sigma, float sigmaDown, float sigmaUp) {
        String op = "eulerAncestralStep";
        enter(op);
        CudaTensor z = t(zT, op, "z"), den = t(denT, op, "denoised"), noise = noiseT == null ? null : t(noiseT, op, "noise");
        if (noise == null) Shapes.same(op, z.shapeRef(), den.shapeRef());
        else Shapes.same(op, z.shapeRef(), den.shapeRef(), noise.shapeRef());
        if (!(sigma > 0)) throw Shapes.bad(op, "sigma " + sigma + " must be positive");
        CudaTensor y = alloc(noise == null ? promote(z, den) : promote(z, den, noise), z.shapeRef());
        if (y.numel() == 0) return y;
        launcher.kernel(Kernel.EULER_ANCESTRAL).ptr(z, op).i32(z.dtype().halfFlag()).ptr(den, op).i32(den.dtype().halfFlag())
                .ptr(noise == null ? 0 : noise.address(op)).i32(noise == null ? 0 : noise.dtype().halfFlag()).i32(noise == null ? 0 : 1)
                .ptr(y, op).i32(y.dtype().halfFlag()).i64(y.numel()).f32(sigma).f32(sigmaDown).f32(sigmaUp)
                .launch(blocks(y.numel()), THREADS);
        return y;
    }

    /**
     * AutoDIR's CLIP input from a restoration image x [B, 3, H, W] in [-1, 1]: (x + 1)·255/2, centre crop
     * size×size at ((H − size) div 2, (W − size) div 2), ·(1/255), normalised with {@link #CLIP_MEAN} /
     * {@link #CLIP_STD} → [B, 3, size, size] (what CLIPImageProcessor does with do_resize=False).
     */
    public Tensor clipPixelValues(Tensor image, int size) {
        return clipPixelValues(image, size, CLIP_MEAN, CLIP_STD);
    }

    @Override
    public Tensor clipPixelValues(Tensor image, int size, float[] mean, float[] std) {
        String op = "clipPixelValues";
        enter(op);
        CudaTensor x = t(image, op, "image");
        int[] shape = Shapes.clipPixelValues(x.shapeRef(), size, mean, std);
        CudaTensor y = alloc(precision, shape);
        if (y.numel() == 0) return y;
        launcher.launch(clipPixelValuesLaunch(x.address(op), x.dtype(), x.dim(2), x.dim(3), y.address(op), y.dtype(), size, mean, std,
                blocks(y.numel())));
        return y;
    }

    /**
     * clip_preprocess.cu for one image [1, 3, h, w]: the S×S crop at Hugging Face's center_crop offset, (n − S) / 2 inside
     * the image, or −((S − n) / 2) for a side smaller than S (the image zero-padded to S with itself at (S − n) / 2).
     */
    static KernelLaunch clipPixelValuesLaunch(Object x, Precision xType, int h, int w, Object y, Precision yType, int size, float[] mean,
                                              float[] std, long blocks) {
        int top = h >= size ? (h - size) / 2 : -((size - h) / 2), left = w >= size ? (w - size) / 2 : -((size - w) / 2);
        return KernelLaunch.of(Kernel.CLIP_PREPROCESS, blocks, THREADS, x, xType.halfFlag(), y, yType.halfFlag(), 1, h, w, size, top, left,
                mean[0], mean[1], mean[2], std[0], std[1], std[2]);
    }

    // ---- CUDA graphs and timing (GraphCapture) ------------------------------------------------------------------

    /**
     * Records {@code body} as a CUDA graph. The body runs twice: once normally (a warm-up that loads kernels,
     * makes cuBLASLt / cuDNN plans, sizes the arena and workspaces; its results are discarded), then under
     * stream capture. Every transient tensor the captured body allocates keeps its address for the graph's
     * life, so the tensor it returns ({@link CudaGraph#output()}) holds the result after each
     * {@link CudaGraph#replay()}. Inputs that change between replays must be {@link #persistent} tensors the
     * caller overwrites ({@link #copyInto}, {@link #uploadInto}) before replaying; the body must not upload,
     * download, or use attention masks / ids (host data), and must do the same work every time.
     */
    public CudaGraph capture(Supplier<? extends Tensor> body) {
        enter("capture");
        return graphs.capture(body);
    }

    void launch(GraphCapture.Recorded<?> recorded) { recorded.launch(device); }

    /**
     * The network compiled for its input shapes: with the graphs feature ({@link Features#graphs()}, unverified) a
     * {@link CudaNetwork}, captured as one CUDA graph at its first run with a memory plan of its own (and run eagerly,
     * with a warning, when the capture fails); without it, run eagerly at every call.
     */
    @Override
    public CompiledNetwork compile(Network network) {
        enter("compile");
        if (!options.features().graphs()) return Ops.super.compile(network);
        CudaNetwork n = new CudaNetwork(this, network);
        graphs.opened(n);
        return n;
    }

    void networkClosed(CudaNetwork n) { graphs.closed(n); }

    GraphCapture graphs() { return graphs; }

    /** cuDNN's workspace (the device check reports its growth while compiled networks live). */
    Workspace cudnnWorkspace() { return cudnnWorkspace; }

    void graphClosed(CudaGraph g) {
        if (!closed) memory.arena().unreserve(g);
        graphs.closed(g);
    }

    /** Frees cuDNN workspaces outgrown while graphs lived, once none is left (queued work may still use them: sync). */
    private void releaseRetiredWorkspaces() {
        if (closed || cudnnWorkspace.retiredBytes() == 0) return;
        device.synchronize("free outgrown workspaces");
        cudnnWorkspace.releaseRetired();
    }

    /** A stage timer on this backend's stream (CUDA events; read with {@link StageTimer#report()}). */
    public StageTimer timer() {
        enter("timer");
        StageTimer t = new StageTimer(this);
        timers.add(t);
        return t;
    }

    void timerClosed(StageTimer t) { timers.remove(t); }

    boolean capturing() { return graphs.capturing(); }

    // ---- helpers -------------------------------------------------------------------------------

    void enter(String op) {
        if (closed) throw new IllegalStateException(op + ": the cuda backend is closed");
        device.bind();
    }

    /** The exception for a host transfer attempted while a graph is captured. */
    static IllegalStateException captureRefuses(String op) {
        return new IllegalStateException(op + " inside a CUDA graph capture: host transfers cannot be captured "
                + "(write persistent inputs before replay, keep masks and ids out of the captured body)");
    }

    private void notCapturing(String op) {
        if (graphs.capturing()) throw captureRefuses(op);
    }

    /** A float tensor of this backend (an int32 tensor is refused naming the operation). */
    CudaTensor t(Tensor x, String op, String name) {
        CudaTensor c = tAny(x, op, name);
        if (c.isInteger()) throw new IllegalArgumentException(op + ": " + name + " " + c + " must be a float tensor, not int32");
        return c;
    }

    /** An int32 tensor of this backend. */
    CudaTensor ti(Tensor x, String op, String name) {
        CudaTensor c = tAny(x, op, name);
        if (!c.isInteger()) throw new IllegalArgumentException(op + ": " + name + " " + c + " must be an int32 tensor");
        return c;
    }

    CudaTensor tAny(Tensor x, String op, String name) {
        if (x == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (!(x instanceof CudaTensor c) || c.owner() != this) {
            throw new IllegalArgumentException(op + ": " + name + " " + x + " is not a tensor of this cuda backend (upload host data first)");
        }
        c.checkValid(op);
        return c;
    }

    /** t(...) converted to the backend's precision when it has the other dtype (autocast-style). */
    CudaTensor cast(Tensor x, String op, String name) {
        CudaTensor c = t(x, op, name);
        if (c.dtype() == precision) return c;
        CudaTensor y = alloc(precision, c.shapeRef());
        convertRaw(c.address(op), c.dtype(), y.address(op), precision, c.numel());
        return y;
    }

    private static Precision promote(CudaTensor... ts) {
        for (CudaTensor t : ts) if (t.dtype() == Precision.FP32) return Precision.FP32;
        return Precision.FP16;
    }

    CudaTensor alloc(Precision dtype, int... shape) {
        return memory.alloc(dtype, shape);
    }

    private void convertRaw(long src, Precision srcType, long dst, Precision dstType, long n) {
        device.convert(src, srcType, dst, dstType, n);
    }

    private long blocks(long n) {
        return device.blocks(n);
    }

    // ---- close -----------------------------------------------------------------------------------

    /** Frees every graph, timer, persistent tensor, weight, the arena, the libraries' handles and the stream. */
    @Override
    public void close() {
        if (closed) return;
        closeAll(true);
    }

    private void closeAll(boolean sync) {
        Closer c = new Closer();
        if (sync && device != null) c.run(() -> device.synchronize("close"));
        if (graphs != null) graphs.closeAll(c);
        for (StageTimer t : new ArrayList<>(timers)) c.run(t::close);
        closed = true;
        if (memory != null) memory.close(c);
        if (convolutions != null) c.run(convolutions::close);
        else if (cudnnWorkspace != null) c.run(cudnnWorkspace::close);
        if (matmul != null) c.run(matmul::close);
        if (device != null) c.run(device::close);
        c.rethrow();
    }

    @Override public String toString() {
        return "CudaOps[" + precision.name().toLowerCase(Locale.ROOT) + (closed ? ", closed" : "") + "]";
    }

    /**
     * Loads every kernel module now (from the fatbins, or compiled by NVRTC), so that neither a timed region nor a
     * graph capture pays for it; returns the number of kernel functions resolved.
     */
    public int preloadKernels() {
        enter("preloadKernels");
        int n = 0;
        for (Kernel k : Kernel.all()) {
            device.library().function(k);
            n++;
        }
        return n;
    }

    /** Names of the loaded kernel modules and whether each came from the packaged fatbin or from NVRTC. */
    public Map<String, String> kernelOrigins() {
        return new LinkedHashMap<>(device.kernelOrigins());
    }
}
