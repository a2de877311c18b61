package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

import java.util.EnumMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The cuda backend's convolution routing and tuning: which implementation runs a conv2d, chosen per call by shape and
 * {@link CudaOps.Options#conv()} — the depthwise kernel (fastKernels), 1x1 convolutions as cuBLASLt products, cuDNN's
 * legacy API (with im2col + cuBLASLt and cuDNN's graph API as timed candidates under the convIm2col / convGraph
 * features, {@link ConvAutotune}), or the implicit-GEMM / direct kernels without cuDNN. Owns cuDNN (created on first
 * use) and its workspace.
 */
final class ConvolutionRouting implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ConvolutionRouting.class.getName());
    /** 1x1 convolutions through cuBLASLt (-Dautodir.cuda.pointwiseGemm=false: through the convolution path). */
    private static final boolean POINTWISE_GEMM = Boolean.parseBoolean(System.getProperty("autodir.cuda.pointwiseGemm", "true"));

    private final CudaOps ops;
    private final CudaDevice device;
    private final CudaMemory memory;
    private final Precision precision;
    private final Features features;
    private final CudaOps.ConvAlgorithm algorithm;
    private final Workspace workspace;
    private Convolution convolution;
    private String cudnnUnavailable;

    ConvolutionRouting(CudaOps ops, CudaDevice device, CudaMemory memory, CudaOps.Options options, Workspace workspace) {
        this.ops = ops;
        this.device = device;
        this.memory = memory;
        this.precision = options.precision();
        this.features = options.features();
        this.algorithm = options.conv();
        this.workspace = workspace;
    }

    /** conv2d (see {@link dev.autodir.backend.Ops#conv2d}): x, w and bias cast to the backend's precision first. */
    Tensor conv2d(Tensor xt, Tensor wt, Tensor bt, int stride, int padding, int groups) {
        String op = "conv2d";
        CudaTensor x = ops.cast(xt, op, "x"), w = ops.cast(wt, op, "weight"), b = bt == null ? null : ops.cast(bt, op, "bias");
        int[] shape = Shapes.conv2d(x.shapeRef(), w.shapeRef(), b == null ? null : b.shapeRef(), stride, padding, groups);
        int batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int cout = w.dim(0), kh = w.dim(2), kw = w.dim(3), ho = shape[2], wo = shape[3];
        CudaTensor y = ops.alloc(precision, shape);
        if (y.numel() == 0) return y;
        if (features.fastKernels() && depthwise(x, null, w, b, y, cin, cout, groups, h, wd, kh, kw, stride, padding, ho, wo, op)) {
            return y;
        }
        if (POINTWISE_GEMM && kh == 1 && kw == 1 && stride == 1 && padding == 0 && groups == 1 && (long) h * wd <= Integer.MAX_VALUE) {
            // a 1x1 convolution is a matrix product per image: cuBLASLt instead of cuDNN's NCHW path
            int pixels = h * wd;
            long xStep = (long) cin * pixels * x.dtype().bytes(), yStep = (long) cout * pixels * y.dtype().bytes();
            for (int bi = 0; bi < batch; bi++) {
                ops.matmul().pointwise(device.stream(), precision, x.address(op) + bi * xStep, w.address(op), y.address(op) + bi * yStep, pixels, cout, cin);
            }
            if (b != null) ops.perChannelRaw(y, b, y, 0, op);
            return y;
        }
        CudaOps.ConvAlgorithm algo = convAlgorithm();
        switch (algo) {
            case CUDNN -> {
                Convolution conv = convolution(true);
                Convolution.Key key = new Convolution.Key(precision, batch, cin, h, wd, cout, kh, kw, stride, padding, groups);
                Convolution.Plan plan = conv.plan(key, !ops.capturing(), () -> device.synchronize("convolution plan"));
                if (plan.ho != ho || plan.wo != wo) {
                    throw new CudaException("cuDNN output " + plan.ho + "x" + plan.wo + " differs from " + ho + "x" + wo + " for " + key);
                }
                Im2colPlan columns = im2colPlan(key, w, ho, wo, op);
                Supplier<Runnable> graph = graphCandidate(conv, key, x, w, y, ho, wo, op);
                if (columns == null && graph == null) {
                    conv.forward(plan, key, x.address(op), w.address(op), y.address(op));
                } else {   // unverified features convIm2col / convGraph: whichever path was fastest for this shape
                    Map<ConvAutotune.Choice, Supplier<Runnable>> candidates = new EnumMap<>(ConvAutotune.Choice.class);
                    if (columns != null) candidates.put(ConvAutotune.Choice.IM2COL, () -> () -> convIm2col(columns, key, x, w, y, wo, op));
                    if (graph != null) candidates.put(ConvAutotune.Choice.GRAPH, graph);
                    convAutotune().run(key, ops.capturing(), () -> new ConvAutotune.EventClock(device.stream()),
                            (reference, candidate) -> {   // once per shape and candidate: both results, downloaded and compared
                                reference.run();
                                FloatTensor expected = ops.download(y);
                                candidate.run();
                                return ops.download(y).relL2(expected);
                            },
                            () -> conv.forward(plan, key, x.address(op), w.address(op), y.address(op)), candidates);
                }
                if (b != null) ops.perChannelRaw(y, b, y, 0, op);
            }
            case IGEMM -> {
                long n = (long) batch * ho * wo;
                if (n > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": " + n + " output pixels exceed the igemm kernel's int range");
                int m = cout / groups;
                device.launcher().kernel(Kernel.CONV2D_IGEMM).ptr(x, op).ptr(w, op).ptr(b == null ? 0 : b.address(op)).ptr(y, op)
                        .i32(batch).i32(cin).i32(h).i32(wd).i32(cout).i32(kh).i32(kw).i32(stride).i32(padding).i32(ho).i32(wo)
                        .i32(groups).i32(b == null ? 0 : 1)
                        .launch((n + 127) / 128, (m + 63) / 64, groups, 256, 1, 1, 0);
            }
            case DIRECT -> device.launcher().kernel(Kernel.CONV2D_DIRECT).ptr(x, op).i32(x.dtype().halfFlag()).ptr(w, op).i32(w.dtype().halfFlag())
                    .ptr(b == null ? 0 : b.address(op)).i32(b == null ? 0 : b.dtype().halfFlag()).i32(b == null ? 0 : 1)
                    .ptr(y, op).i32(y.dtype().halfFlag()).i32(batch).i32(cin).i32(h).i32(wd).i32(cout).i32(kh).i32(kw)
                    .i32(stride).i32(padding).i32(ho).i32(wo).i32(groups)
                    .launch(device.blocks(y.numel()), CudaDevice.THREADS);
            default -> throw new IllegalStateException("conv algorithm " + algo);
        }
        return y;
    }

    /**
     * A depthwise convolution (groups = Cin = Cout, filters up to 7×7) through conv2d_depthwise.cu, input bias (or
     * null) and bias included; false (nothing launched) for any other shape or when the input tile would not fit 47 KiB
     * of shared memory (48 KiB less the filter).
     */
    private boolean depthwise(CudaTensor x, CudaTensor ib, CudaTensor w, CudaTensor b, CudaTensor y, int cin, int cout, int groups,
                              int h, int wd, int kh, int kw, int stride, int padding, int ho, int wo, String op) {
        long[] l = depthwiseLaunch(y.dim(0), cin, cout, groups, kh, kw, stride, ho, wo);
        if (l == null) return false;
        device.launcher().kernel(Kernel.CONV2D_DEPTHWISE).ptr(x, op).i32(x.dtype().halfFlag())
                .ptr(ib == null ? 0 : ib.address(op)).i32(ib == null ? 0 : ib.dtype().halfFlag()).i32(ib == null ? 0 : 1)
                .ptr(w, op).i32(w.dtype().halfFlag())
                .ptr(b == null ? 0 : b.address(op)).i32(b == null ? 0 : b.dtype().halfFlag()).i32(b == null ? 0 : 1)
                .ptr(y, op).i32(y.dtype().halfFlag()).i32(cin).i32(h).i32(wd).i32(kh).i32(kw).i32(stride).i32(padding)
                .i32(ho).i32(wo)
                .launch(l[0], l[1], l[2], 32, 8, 1, (int) l[3]);
        return true;
    }

    /** conv2d_depthwise.cu's grid (x, y, z) and dynamic shared bytes, block (32, 8); null where it does not apply. */
    static long[] depthwiseLaunch(int batch, int cin, int cout, int groups, int kh, int kw, int stride, int ho, int wo) {
        if (groups != cin || cout != cin || kh > Kernel.DEPTHWISE_MAX_K || kw > Kernel.DEPTHWISE_MAX_K) return null;
        int t = Kernel.DEPTHWISE_TILE;
        long smem = 4L * ((long) (t - 1) * stride + kw) * ((long) (t - 1) * stride + kh);
        long planes = (long) batch * cout, gy = (ho + t - 1) / t;
        if (smem > 47 * 1024 || planes > 65535 || gy > 65535) return null;
        return new long[] {(wo + t - 1) / t, gy, planes, smem};
    }

    // ---- convolution as im2col + one cuBLASLt product (Features.convIm2col, unverified) ---------------

    /** Byte cap of the im2col column buffer (-Dautodir.cuda.im2colMiB, default 256); package-private for tests. */
    long columnCapBytes = Long.getLong("autodir.cuda.im2colMiB", 256L) << 20;
    private ConvAutotune convAutotune;

    private ConvAutotune convAutotune() {
        if (convAutotune == null) convAutotune = new ConvAutotune();
        return convAutotune;
    }

    /** Makes every eligible convolution use {@code choice} without timing (null: time per shape again); for tests. */
    void forceConvChoice(ConvAutotune.Choice choice) { convAutotune().force(choice); }

    /**
     * The per-shape decisions of the convIm2col / convGraph features, one line each: shape, the path used and the
     * median times of cuDNN and of each candidate that decided it (and why any was excluded); empty when both
     * features are off or no shape was timed yet.
     */
    public String convChoices() { return convAutotune == null ? "" : convAutotune.describe(); }

    /**
     * The chunking of {@code key} as im2col + product, or null where that path does not apply: the feature is off,
     * not FP16, grouped, a dimension beyond int, the weight or an image's output not 256-byte aligned (cuBLASLt's
     * heuristic assumes aligned pointers), or the column buffer cap too small for 128 pixels. A forced IM2COL choice
     * on such a shape throws.
     */
    private Im2colPlan im2colPlan(Convolution.Key key, CudaTensor w, int ho, int wo, String op) {
        boolean forced = convAutotune != null && convAutotune.forced() == ConvAutotune.Choice.IM2COL;
        if (!forced && (!features.convIm2col() || precision != Precision.FP16)) return null;   // the default path
        long pixels = (long) ho * wo, rows = (long) key.cin() * key.kh() * key.kw();
        String why = null;
        if (!features.convIm2col()) why = "the feature convIm2col is off";
        else if (precision != Precision.FP16) why = "precision " + precision + " (the path is FP16 only)";
        else if (key.groups() != 1) why = "groups " + key.groups();
        else if (pixels > Integer.MAX_VALUE || rows > Integer.MAX_VALUE) why = pixels + " pixels / " + rows + " rows exceed an int";
        else if (w.address(op) % 256 != 0) why = "the weight is not 256-byte aligned";
        else if (key.batch() > 1 && (long) key.cout() * pixels % Im2colPlan.PIXEL_QUANTUM != 0) why = "images not 256-byte aligned in y";
        Im2colPlan plan = why == null ? Im2colPlan.of(key.batch(), (int) pixels, (int) rows, columnCapBytes) : null;
        if (why == null && plan == null) why = "128 pixels of columns exceed the " + columnCapBytes + "-byte cap";
        if (why != null && forced) {
            throw new IllegalStateException(op + ": im2col forced but not possible for " + ConvAutotune.describe(key) + ": " + why);
        }
        return plan;
    }

    /** y = conv(x, w) without bias: per chunk, the column matrix (im2col.cu), then Dᶜ [np, Cout] = Colᶜ · Wᶜ. */
    private void convIm2col(Im2colPlan plan, Convolution.Key key, CudaTensor x, CudaTensor w, CudaTensor y, int wo, String op) {
        ScratchArena.Allocation col = memory.allocate(plan.bufferBytes());
        try {
            plan.run(new Im2colPlan.Sink() {
                @Override public void im2col(long xa, long ca, Im2colPlan.Chunk c) {
                    device.launcher().kernel(Kernel.IM2COL).ptr(xa).ptr(ca).i32(key.cin()).i32(key.h()).i32(key.w()).i32(key.kh())
                            .i32(key.kw()).i32(key.stride()).i32(key.pad()).i32(wo).i32(c.p0()).i32(c.np()).i32(c.ldc())
                            .launch(Im2colPlan.blocks(c.np()), Math.min(key.cin(), 65535), c.images(), Im2colPlan.threads(c.np()), 1, 1, 0);
                }

                @Override public void gemm(Matmul.Gemm g, long a, long b, long d) { ops.matmul().gemm(device.stream(), g, 1f, a, b, d); }
            }, key, x.address(op), w.address(op), y.address(op), col.address());
        } finally {
            memory.release(col);   // the top of the arena (y came before it): later work reuses it in stream order
        }
    }

    // ---- convolution through cuDNN's graph API (Features.convGraph, unverified) ----------------------

    /**
     * The graph-API candidate for {@code key}, or null where it is not offered: the feature is off, not FP16, or x, w
     * or y not {@link CudnnGraphConvolution#ALIGNMENT}-byte aligned (a view). The supplier plans on first use (inside
     * the tuner, which never plans during a capture without a decision) and returns the body that runs the plan. A
     * forced GRAPH choice on such a call throws.
     */
    private Supplier<Runnable> graphCandidate(Convolution conv, Convolution.Key key, CudaTensor x, CudaTensor w, CudaTensor y,
                                              int ho, int wo, String op) {
        boolean forced = convAutotune != null && convAutotune.forced() == ConvAutotune.Choice.GRAPH;
        if (!forced && (!features.convGraph() || precision != Precision.FP16)) return null;   // the default path
        String why = null;
        if (!features.convGraph()) why = "the feature convGraph is off";
        else if (precision != Precision.FP16) why = "precision " + precision + " (the path is FP16 only)";
        else if (((x.address(op) | w.address(op) | y.address(op)) & (CudnnGraphConvolution.ALIGNMENT - 1)) != 0) {
            why = "x, w or y is not " + CudnnGraphConvolution.ALIGNMENT + "-byte aligned";
        }
        if (why != null) {
            if (forced) throw new IllegalStateException(op + ": cuDNN graph forced but not possible for " + ConvAutotune.describe(key) + ": " + why);
            return null;
        }
        return () -> {
            CudnnGraphConvolution graph = conv.graph();
            CudnnGraphConvolution.Plan plan = graph.plan(key, !ops.capturing(), () -> device.synchronize("convolution plan"));
            if (plan.ho != ho || plan.wo != wo) {
                throw new CudaException("cuDNN graph output " + plan.ho + "x" + plan.wo + " differs from " + ho + "x" + wo + " for " + key);
            }
            return () -> graph.forward(plan, x.address(op), w.address(op), y.address(op));
        };
    }

    /** The convolution implementation this call uses (AUTO resolved). */
    CudaOps.ConvAlgorithm convAlgorithm() {
        CudaOps.ConvAlgorithm a = algorithm;
        if (a == CudaOps.ConvAlgorithm.IGEMM && precision == Precision.FP32) return CudaOps.ConvAlgorithm.DIRECT;   // igemm is FP16-only
        if (a != CudaOps.ConvAlgorithm.AUTO) return a;
        if (convolution(false) != null) return CudaOps.ConvAlgorithm.CUDNN;
        return precision == Precision.FP16 ? CudaOps.ConvAlgorithm.IGEMM : CudaOps.ConvAlgorithm.DIRECT;
    }

    /** cuDNN, created on first use; null (or an exception when {@code required}) where it cannot load. */
    private Convolution convolution(boolean required) {
        if (convolution == null && cudnnUnavailable == null) {
            if (ops.capturing()) throw new IllegalStateException("cuDNN first used inside a CUDA graph capture; run the body once first");
            try {
                convolution = new Convolution(device.stream(), workspace);
            } catch (Throwable e) {   // UnsatisfiedLinkError / NoClassDefFoundError when libcudnn is missing
                cudnnUnavailable = e.toString();
                LOG.log(System.Logger.Level.WARNING, "cuDNN unavailable, convolutions use the built-in kernels: " + e);
            }
        }
        if (convolution == null && required) throw new CudaException("cuDNN is unavailable: " + cudnnUnavailable);
        return convolution;
    }


    /**
     * conv2d(x + inputBias, ...) in one launch of the depthwise kernel (the fastKernels feature), or null where that
     * kernel does not apply (the caller composes the default then).
     */
    Tensor conv2dWithInputBias(Tensor xt, Tensor ibt, Tensor wt, Tensor bt, int stride, int padding, int groups) {
        String op = "conv2dWithInputBias";
        CudaTensor x = ops.cast(xt, op, "x"), ib = ops.cast(ibt, op, "inputBias"), w = ops.cast(wt, op, "weight");
        CudaTensor b = bt == null ? null : ops.cast(bt, op, "bias");
        int[] shape = Shapes.conv2dWithInputBias(x.shapeRef(), ib.shapeRef(), w.shapeRef(), b == null ? null : b.shapeRef(),
                stride, padding, groups);
        int batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3), cout = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        if (depthwiseLaunch(batch, cin, cout, groups, kh, kw, stride, 1, 1) == null) return null;   // not the depthwise kernel's case
        int ho = shape[2], wo = shape[3];
        CudaTensor y = ops.alloc(precision, shape);
        if (y.numel() == 0) return y;
        if (!depthwise(x, ib, w, b, y, cin, cout, groups, h, wd, kh, kw, stride, padding, ho, wo, op)) return null;   // a grid too large
        return y;
    }

    /** cuDNN's version and load failure, for the backend's description ("" when cuDNN was never needed). */
    String describe() {
        if (convolution != null) return ", cuDNN " + Convolution.version();
        if (cudnnUnavailable != null) return ", cuDNN unavailable: " + cudnnUnavailable;
        return "";
    }

    @Override
    public void close() {
        if (convolution != null) convolution.close();
        convolution = null;
    }
}
