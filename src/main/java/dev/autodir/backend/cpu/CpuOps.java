package dev.autodir.backend.cpu;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.model.clip.CLIPImageProcessor;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The float32 cpu backend, and the project's reference: every other backend is checked against it.
 *
 * <p>Tensors are {@link FloatTensor}s on the Java heap. Matrix products run in OpenBLAS
 * {@code cblas_sgemm} on owned native buffers (never on Java arrays, which JavaCPP would copy in and
 * out on every call); normalisations and elementwise operations are Java loops with the Vector API.
 * All parallelism is this class's own small fork-join pool: OpenBLAS is set to one thread
 * (process-wide) and called once per worker, so no OpenBLAS thread spins while Java works.
 *
 * <p>Convolution paths, chosen by shape (all checked by {@code OpsConformanceTest}):
 * <ul>
 *   <li>groups = channels (NAFNet's depthwise 3×3): a direct vector loop per channel;
 *   <li>3×3, stride 1, ≥ 32 channels in and out (the UNet's, VAE's and NAFNet's big layers): Winograd
 *       F(2×2, 3×3), 16 products of [Cout, Cin] · [Cin, tiles] ({@link Winograd}); its rounding error
 *       is about 1.6× the direct sum's, ~5e-7 relative at 320 channels;
 *   <li>other kernels with ≥ 32 input channels, any stride: "shifted windows", one product per kernel
 *       tap on a padded (for stride s: phase-split) copy of the input, no im2col;
 *   <li>1×1 stride 1: one product on the input as it is;
 *   <li>the rest (few input channels, other groups): im2col in bands, then one product.
 * </ul>
 * Attention runs one (batch, head, block of queries) item at a time per worker: q·kᵀ into a 4 MiB
 * block of scores, masked softmax in place, then the product with v scaled by 1/Σ; all heads' score
 * matrices never exist at once.
 *
 * <p>Numerics follow PyTorch's float32 CPU kernels (biased variance in GroupNorm and LayerNorm with
 * sums accumulated in double, softmax with max subtraction, exact-erf GELU, SiLU = x·sigmoid(x));
 * results agree with a double-precision reference to ~1e-7 relative L2.
 *
 * <p>Memory: {@link #weight} reads each checkpoint tensor once and caches it per (store, key) until
 * {@link #close()}, as a {@link CpuWeight}. The first time a weight is used as a matrix, it is written
 * to native memory in the layout of its path (plain, per-tap [kh·kw][Cout][Cin], or Winograd
 * [16][Cout][Cin], 16/9 of the weight) and its heap array is dropped, so a matrix lives once, in
 * native memory; weights used as heap data (biases, norm scales, depthwise kernels) stay on the heap.
 * Any operation still accepts plain {@link FloatTensor}s everywhere; their matrices are prepared in
 * scratch memory on every call. {@code CpuOps(threads, false)} keeps every weight as a heap tensor and
 * prepares its matrix on every call instead (slower). Scratch buffers grow to the largest layer (at
 * 512×512 images: a few hundred MiB) and are freed by {@link #close()}.
 *
 * <p>Speed depends on which kernels OpenBLAS picked when it loaded: {@code OPENBLAS_CORETYPE=Haswell}
 * (set on this project's build machine) forces AVX2 kernels on an AVX-512 CPU and costs ~1.5× on every
 * product; a warning is logged when that is detected. Every result is a new heap array: avoid G1
 * (it allocates arrays of 2 MiB and more as humongous objects, ~5× slower for a plain copy, and lets the heap
 * grow instead of collecting them); {@code bin/autodir} runs the serial collector, the tests the parallel one.
 * Call {@link #warmUp()} before stages that run once.
 *
 * <p>An instance is meant to be driven by one thread at a time; the methods that use the shared native
 * scratch buffers are synchronized.
 */
public final class CpuOps implements Ops {
    /** Upper bound of an im2col block (floats, 16 MiB); larger convolutions go in bands of output rows. */
    static final long COLUMN_BLOCK = 4L << 20;
    /** Output band of the shifted-window convolution (floats, 8 MiB): Cout × rows · padded width. */
    static final long SHIFT_BAND = 2L << 20;
    /** Pixels × (Cin + Cout) per band of a 1×1 convolution (floats, 4 MiB), so a band stays in cache. */
    static final long POINTWISE_BAND = 1L << 20;
    /** Tiles (2×2 outputs each) per band of the Winograd convolution. */
    static final long WINOGRAD_TILES = 512;
    /** Below this many input channels a stride-1 convolution goes through im2col (K = Cin·kh·kw). */
    static final int SHIFT_MIN_CHANNELS = 32;
    /** Upper bound of one block of attention scores (floats, 4 MiB): query rows × keys. */
    static final long SCORE_BLOCK = 1L << 20;

    private final Parallel parallel;
    private final boolean cacheNativeWeights;
    private final long columnBlock;
    private final long scoreBlock;
    private final long shiftBand;
    private final long winogradTiles;
    /**
     * Every tensor handed out by {@link #weight}, per store and key: {@link CpuWeight}s (which own their
     * native layouts) when the native cache is on, plain heap {@link FloatTensor}s when it is off.
     */
    private final Map<WeightStore, Map<String, Tensor>> weights = new IdentityHashMap<>();
    private final NativeFloats scratchA = new NativeFloats("cpu scratch A");
    private final NativeFloats scratchB = new NativeFloats("cpu scratch B");
    private final NativeFloats scratchC = new NativeFloats("cpu scratch C");
    private final NativeFloats scratchD = new NativeFloats("cpu scratch D");
    private final NativeFloats scratchMatrix = new NativeFloats("cpu scratch weight");
    private boolean closed;

    /** One worker per available processor, native weight cache on. */
    public CpuOps() { this(Runtime.getRuntime().availableProcessors(), true); }

    /**
     * @param threads            worker threads for everything, matrix products included (OpenBLAS is
     *                           set to run single-threaded, process-wide, and is called once per worker)
     * @param cacheNativeWeights keep a native copy of each weight matrix after its first use
     */
    public CpuOps(int threads, boolean cacheNativeWeights) {
        this(threads, cacheNativeWeights, COLUMN_BLOCK, SCORE_BLOCK, SHIFT_BAND, WINOGRAD_TILES, Parallel.DEFAULT_MIN_WORK);
    }

    /**
     * With explicit block sizes (floats) and the least work worth splitting over threads, so tests can
     * force the banded, blocked and split paths on small data.
     */
    CpuOps(int threads, boolean cacheNativeWeights, long columnBlock, long scoreBlock, long shiftBand, long winogradTiles,
           long minParallelWork) {
        if (columnBlock < 1 || scoreBlock < 1 || shiftBand < 1 || winogradTiles < 1) {
            throw new IllegalArgumentException("block sizes must be positive");
        }
        this.parallel = new Parallel(threads, minParallelWork);
        this.shiftBand = shiftBand;
        this.winogradTiles = winogradTiles;
        this.cacheNativeWeights = cacheNativeWeights;
        Blas.useCallerThreadsOnly();
        Blas.warnAboutCoreType();
        this.columnBlock = columnBlock;
        this.scoreBlock = scoreBlock;
    }

    @Override public String name() { return "cpu"; }

    // ---- data movement ------------------------------------------------------------------------

    @Override public Tensor upload(FloatTensor host) {
        if (host == null) throw new IllegalArgumentException("upload: null tensor");
        return host.copy();
    }

    @Override public Tensor upload(IntTensor host) {
        if (host == null) throw new IllegalArgumentException("upload: null tensor");
        return host.copy();
    }

    @Override public FloatTensor download(Tensor t) {
        if (t instanceof CpuWeight w) return w.copy();             // without bringing its values back to stay
        return cpu(t, "download", "tensor").copy();
    }

    @Override public IntTensor downloadInts(Tensor t) { return ints(t, "downloadInts", "tensor").copy(); }

    /** Heap tensors are never freed under their holder: a tensor is kept as it is (a weight as a copy). */
    @Override public Tensor keep(Tensor t) {
        if (t instanceof FloatTensor || t instanceof IntTensor) return t;
        return download(t);
    }

    @Override public synchronized Tensor weight(WeightStore store, String key) {
        checkOpen();
        if (store == null || key == null) throw new IllegalArgumentException("weight: store and key must not be null");
        Map<String, Tensor> perStore = weights.computeIfAbsent(store, s -> new HashMap<>());
        Tensor w = perStore.get(key);
        if (w == null) {
            w = cacheNativeWeights ? new CpuWeight(store, key) : store.readFloat(key);
            perStore.put(key, w);
        }
        return w;
    }

    @Override public Tensor reshape(Tensor xt, int... shape) {
        FloatTensor x = cpu(xt, "reshape", "x");
        if (shape == null || FloatTensor.numel(shape) != x.numel()) {
            throw new IllegalArgumentException("reshape: cannot view " + Arrays.toString(x.shape()) + " ("
                    + x.numel() + " elements) as " + Arrays.toString(shape));
        }
        return x.reshape(shape);
    }

    // ---- dense layers -------------------------------------------------------------------------

    @Override public Tensor conv2d(Tensor xt, Tensor wt, Tensor bt, int stride, int padding, int groups) {
        return conv2d(xt, null, wt, bt, stride, padding, groups);
    }

    /** The depthwise loop takes the input bias as it reads (no extra pass); other shapes add it first. */
    @Override public Tensor conv2dWithInputBias(Tensor xt, Tensor ibt, Tensor wt, Tensor bt, int stride, int padding, int groups) {
        return conv2d(xt, ibt, wt, bt, stride, padding, groups);
    }

    private synchronized Tensor conv2d(Tensor xt, Tensor ibt, Tensor wt, Tensor bt, int stride, int padding, int groups) {
        checkOpen();
        FloatTensor x = cpu(xt, "conv2d", "x");
        Tensor w = matrixOperand(wt, "conv2d", "weight");
        int[] ws = w.shape();
        FloatTensor b = bt == null ? null : cpu(bt, "conv2d", "bias");
        if (x.rank() != 4 || ws.length != 4) {
            throw shapes("conv2d", "x must be [B, Cin, H, W] and weight [Cout, Cin/groups, kh, kw]", x, w);
        }
        if (stride < 1 || padding < 0 || groups < 1) {
            throw new IllegalArgumentException("conv2d: stride " + stride + ", padding " + padding + ", groups " + groups
                    + " (stride and groups must be positive, padding non-negative)");
        }
        int batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int cout = ws[0], cinPerGroup = ws[1], kh = ws[2], kw = ws[3];
        if (cin % groups != 0 || cout % groups != 0 || cinPerGroup != cin / groups) {
            throw shapes("conv2d", "channels do not match groups=" + groups, x, w);
        }
        if (b != null && (b.rank() != 1 || b.dim(0) != cout)) throw shapes("conv2d", "bias must be [Cout]", w, b);
        if (h + 2 * padding < kh || wd + 2 * padding < kw || kh < 1 || kw < 1) {
            throw shapes("conv2d", "kernel larger than the padded input (padding " + padding + ")", x, w);
        }
        int ho = (h + 2 * padding - kh) / stride + 1, wo = (wd + 2 * padding - kw) / stride + 1;
        FloatTensor out = FloatTensor.zeros(batch, cout, ho, wo);
        Geometry g = new Geometry(cin, h, wd, kh, kw, stride, padding, ho, wo);
        FloatTensor ib = ibt == null ? null : cpu(ibt, "conv2dWithInputBias", "inputBias");
        if (ib != null && ib.numel() != cin) throw shapes("conv2dWithInputBias", "the input bias needs Cin elements", x, ib);
        boolean depthwise = groups == cin && cout == cin && cinPerGroup == 1;
        if (ib != null && !depthwise) x = (FloatTensor) addPerChannel(x, ib);
        if (depthwise) {
            depthwise(x, ib, heapOperand(w), b, out, g);
        } else if (groups == 1 && stride == 1 && kh == 3 && kw == 3 && cin >= SHIFT_MIN_CHANNELS && cout >= SHIFT_MIN_CHANNELS) {
            convWinograd(x, prepared(w, CpuWeight.Layout.WINOGRAD), b, out, g);
        } else if (groups == 1 && kh * kw > 1 && cin >= SHIFT_MIN_CHANNELS) {
            convShifted(x, prepared(w, CpuWeight.Layout.TAPS), b, out, g);
        } else if (groups == 1 && kh == 1 && kw == 1 && stride == 1 && padding == 0) {
            convPointwise(x, prepared(w, CpuWeight.Layout.PLAIN), b, out);
        } else {
            convGemm(x, prepared(w, CpuWeight.Layout.PLAIN), b, out, g, groups);
        }
        return out;
    }

    /** Sizes of one convolution. */
    private record Geometry(int cin, int h, int w, int kh, int kw, int stride, int pad, int ho, int wo) { }

    /** Groups of channels as matrix products: W_g [Cout/g, Cin/g·kh·kw] · columns [Cin/g·kh·kw, Ho·Wo]. */
    private void convGemm(FloatTensor x, NativeFloats wn, FloatTensor b, FloatTensor out, Geometry g, int groups) {
        int batch = x.dim(0), cout = out.dim(1);
        float[] od = out.data(), bd = b == null ? null : b.data();
        int cg = g.cin / groups, coutg = cout / groups;
        int k = cg * g.kh * g.kw, plane = g.ho * g.wo, inPlane = g.h * g.w;
        boolean pointwise = g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad == 0;
        NativeFloats y = scratchC.ensure((long) cout * plane);
        int rowsPerBlock = (int) Math.max(1, Math.min(g.ho, columnBlock / ((long) k * g.wo)));
        for (int bi = 0; bi < batch; bi++) {
            for (int gi = 0; gi < groups; gi++) {
                long wOff = (long) gi * coutg * k, cOff = (long) gi * coutg * plane;
                int xOff = (bi * g.cin + gi * cg) * inPlane;
                if (pointwise) {
                    scratchB.ensure((long) k * plane);
                    scratchB.put(0, x.data(), xOff, k * plane);
                    gemmSplitRows(coutg, plane, k, wn, wOff, scratchB, 0, plane, y, cOff, plane);
                    continue;
                }
                for (int oh0 = 0; oh0 < g.ho; oh0 += rowsPerBlock) {
                    int oh1 = Math.min(g.ho, oh0 + rowsPerBlock), n = (oh1 - oh0) * g.wo;
                    scratchB.ensure((long) k * n);
                    im2col(x.data(), xOff, cg, g, oh0, oh1, scratchB);
                    gemmSplitRows(coutg, n, k, wn, wOff, scratchB, 0, n, y, cOff + (long) oh0 * g.wo, plane);
                }
            }
            // back to the heap, output channels shared out, bias added on the way
            int yBase = bi * cout * plane;
            parallel.forRange(cout, plane, (c0, c1) -> {
                for (int co = c0; co < c1; co++) {
                    y.get((long) co * plane, od, yBase + co * plane, plane);
                    if (bd != null) VectorMath.addScalar(od, yBase + co * plane, bd[co], od, yBase + co * plane, plane);
                }
            });
        }
    }

    /**
     * 1×1 convolution, W [Cout, Cin] · x [Cin, pixels], in bands of pixels: each worker copies its
     * band's columns into its own native block, multiplies, and copies the result back with the bias,
     * so the copies run in parallel and hit cache.
     */
    private void convPointwise(FloatTensor x, NativeFloats wn, FloatTensor b, FloatTensor out) {
        int batch = x.dim(0), cin = x.dim(1), cout = out.dim(1), plane = x.dim(2) * x.dim(3);
        int threads = parallel.threads();
        long wanted = Math.max(threads, ((long) plane * (cin + cout) + POINTWISE_BAND - 1) / POINTWISE_BAND);
        int bands = (int) Math.min(plane, (wanted + threads - 1) / threads * threads);
        int width = (plane + bands - 1) / bands;
        bands = (plane + width - 1) / width;
        NativeFloats xs = scratchB.ensure((long) threads * cin * width), ys = scratchC.ensure((long) threads * cout * width);
        float[] xd = x.data(), od = out.data(), bd = b == null ? null : b.data();
        int bandCount = bands;
        for (int bi = 0; bi < batch; bi++) {
            int xBase = bi * cin * plane, yBase = bi * cout * plane;
            parallel.forWorkers(bandCount, (long) cin * cout * width, (worker, b0, b1) -> {
                long xOff = (long) worker * cin * width, yOff = (long) worker * cout * width;
                for (int band = b0; band < b1; band++) {
                    int p0 = band * width, n = Math.min(width, plane - p0);
                    for (int ci = 0; ci < cin; ci++) xs.put(xOff + (long) ci * n, xd, xBase + ci * plane + p0, n);
                    Blas.sgemm(false, false, cout, n, cin, 1f, wn, 0, cin, xs, xOff, n, 0f, ys, yOff, n);
                    for (int co = 0; co < cout; co++) {
                        int at = yBase + co * plane + p0;
                        ys.get(yOff + (long) co * n, od, at, n);
                        if (bd != null) VectorMath.addScalar(od, at, bd[co], od, at, n);
                    }
                }
            });
        }
    }

    /**
     * C [m×n] = A [m×k] · B [k×n] (row-major, A with leading dimension k), the rows of A and C split
     * over the workers, one single-threaded OpenBLAS call each.
     */
    private void gemmSplitRows(int m, int n, int k, NativeFloats a, long aOff, NativeFloats b, long bOff, int ldb,
                               NativeFloats c, long cOff, int ldc) {
        parallel.forRange(m, (long) n * k, (r0, r1) -> Blas.sgemm(false, false, r1 - r0, n, k, 1f, a, aOff + (long) r0 * k, k,
                b, bOff, ldb, 0f, c, cOff + (long) r0 * ldc, ldc));
    }

    /**
     * Convolution without im2col. The input is zero-padded once into native memory and, for stride s,
     * split into s² phase planes P_ab[c][i][j] = Xpad[c][s·i + a][s·j + b], each Hph × Wph (one plane
     * when s = 1). The output is computed in "wide" rows of Wph columns, [Cout, Ho, Wph]: kernel tap
     * (ki, kj) reads phase (ki mod s, kj mod s) shifted by (ki div s)·Wph + kj div s, so each tap is one
     * matrix product W_tap [Cout, Cin] · P (shifted), accumulated over the taps; the surplus columns of
     * each wide row are discarded. Rows go in bands that keep the band's input and output in cache
     * across the taps; the workers share out the output channels, or the bands when there are few
     * output channels (a final RGB layer).
     */
    private void convShifted(FloatTensor x, NativeFloats wt, FloatTensor b, FloatTensor out, Geometry g) {
        int batch = x.dim(0), cout = out.dim(1), cin = g.cin, taps = g.kh * g.kw, st = g.stride;
        int hp = g.h + 2 * g.pad, wp = g.w + 2 * g.pad;
        int hph = (hp + st - 1) / st, wph = (wp + st - 1) / st, phase = hph * wph, perChannel = st * st * phase;
        int wide = g.ho * wph;
        NativeFloats xp = scratchB.ensure((long) cin * perChannel);
        NativeFloats y = scratchC.ensure((long) cout * wide);
        long footprint = (long) Math.max(cout, cin * st * st) * wph;
        int rowsPerBand = (int) Math.max(1, Math.min(g.ho, shiftBand / footprint));
        int bands = (g.ho + rowsPerBand - 1) / rowsPerBand;
        boolean splitBands = cout < 64 && bands >= parallel.threads();
        float[] od = out.data(), bd = b == null ? null : b.data();
        for (int bi = 0; bi < batch; bi++) {
            padPhases(x.data(), bi * cin * g.h * g.w, cin, g, hph, wph, xp);
            int base = bi * cout * g.ho * g.wo;
            // output channels [c0, c1) of bands [band0, band1), then those rows of the result with bias
            Parallel.WorkerRange work = (ignored, from, to) -> {
                int c0 = splitBands ? 0 : from, c1 = splitBands ? cout : to;
                int band0 = splitBands ? from : 0, band1 = splitBands ? to : bands;
                for (int band = band0; band < band1; band++) {
                    int oh0 = band * rowsPerBand, oh1 = Math.min(g.ho, oh0 + rowsPerBand);
                    int n0 = oh0 * wph, n = (oh1 - 1) * wph + g.wo - n0;   // the last read stays inside P
                    for (int t = 0; t < taps; t++) {
                        int ki = t / g.kw, kj = t % g.kw;
                        long bOff = (long) ((ki % st) * st + kj % st) * phase + (long) (ki / st) * wph + kj / st + n0;
                        Blas.sgemm(false, false, c1 - c0, n, cin, 1f, wt, ((long) t * cout + c0) * cin, cin,
                                xp, bOff, perChannel, t == 0 ? 0f : 1f, y, (long) c0 * wide + n0, wide);
                    }
                }
                int r0 = band0 * rowsPerBand, r1 = Math.min(g.ho, band1 * rowsPerBand);
                for (int co = c0; co < c1; co++) {
                    int plane0 = base + co * g.ho * g.wo;
                    for (int oh = r0; oh < r1; oh++) y.get((long) co * wide + (long) oh * wph, od, plane0 + oh * g.wo, g.wo);
                    if (bd != null) {
                        VectorMath.addScalar(od, plane0 + r0 * g.wo, bd[co], od, plane0 + r0 * g.wo, (r1 - r0) * g.wo);
                    }
                }
            };
            parallel.forWorkers(splitBands ? bands : cout, splitBands ? (long) cout * cin * taps * rowsPerBand * wph
                    : (long) cin * taps * wide, work);
        }
    }

    /** 3×3 stride 1 by Winograd F(2×2, 3×3), in bands of tile rows; see {@link Winograd}. */
    private void convWinograd(FloatTensor x, NativeFloats u, FloatTensor b, FloatTensor out, Geometry g) {
        int batch = x.dim(0), cin = g.cin, cout = out.dim(1);
        int th = (g.ho + 1) / 2, tw = (g.wo + 1) / 2;
        int bandRows = (int) Math.max(1, Math.min(th, winogradTiles / tw));
        NativeFloats v = scratchB.ensure(16L * cin * bandRows * tw);
        NativeFloats m = scratchC.ensure(16L * cout * bandRows * tw);
        float[] xd = x.data(), od = out.data(), bd = b == null ? null : b.data();
        for (int bi = 0; bi < batch; bi++) {
            int xBase = bi * cin * g.h * g.w, yBase = bi * cout * g.ho * g.wo;
            for (int ti0 = 0; ti0 < th; ti0 += bandRows) {
                int t0 = ti0, t1 = Math.min(th, ti0 + bandRows), tiles = (t1 - t0) * tw;
                parallel.forRange(cin, 64L * tiles, (c0, c1) -> {
                    Winograd.InputScratch s = new Winograd.InputScratch(tw, t1 - t0);
                    for (int c = c0; c < c1; c++) {
                        Winograd.transformInput(xd, xBase + c * g.h * g.w, g.h, g.w, g.pad, t0, t1, c, cin, v, s);
                    }
                });
                // M_ξ [Cout, tiles] = U_ξ [Cout, Cin] · V_ξ [Cin, tiles], the 16 products shared out
                parallel.forRange(16, 2L * cout * cin * tiles, (x0, x1) -> {
                    for (int xi = x0; xi < x1; xi++) {
                        Blas.sgemm(false, false, cout, tiles, cin, 1f, u, (long) xi * cout * cin, cin,
                                v, (long) xi * cin * tiles, tiles, 0f, m, (long) xi * cout * tiles, tiles);
                    }
                });
                parallel.forRange(cout, 32L * tiles, (c0, c1) -> {
                    Winograd.OutputScratch s = new Winograd.OutputScratch(tiles);
                    for (int co = c0; co < c1; co++) {
                        Winograd.transformOutput(m, co, cout, t0, t1, tw, bd == null ? 0f : bd[co], od,
                                yBase + co * g.ho * g.wo, g.ho, g.wo, s);
                    }
                });
            }
        }
    }

    /**
     * Copies {@code channels} planes of x into dst as zero-padded phase planes, [channels][s²][hph][wph]
     * with phase (a, b) holding padded rows s·i + a and columns s·j + b (one plain padded plane for s = 1).
     */
    private void padPhases(float[] x, int xOff, int channels, Geometry g, int hph, int wph, NativeFloats dst) {
        int st = g.stride, phase = hph * wph, perChannel = st * st * phase, plane = g.h * g.w;
        parallel.forRange(channels, perChannel, (c0, c1) -> {
            float[] buf = new float[perChannel];                   // padding positions stay zero for every channel
            for (int c = c0; c < c1; c++) {
                int src = xOff + c * plane;
                for (int r = 0; r < g.h; r++) {
                    int pr = r + g.pad, rowBase = ((pr % st) * st) * phase + (pr / st) * wph;
                    if (st == 1) {
                        System.arraycopy(x, src + r * g.w, buf, rowBase + g.pad, g.w);
                    } else {
                        for (int col = 0; col < g.w; col++) {
                            int pc = col + g.pad;
                            buf[rowBase + (pc % st) * phase + pc / st] = x[src + r * g.w + col];
                        }
                    }
                }
                dst.put((long) c * perChannel, buf, 0, perChannel);
            }
        });
    }

    /**
     * Writes the columns of output rows [oh0, oh1) for {@code channels} input channels starting at
     * {@code xOff} into {@code dst} as a [channels·kh·kw, (oh1−oh0)·Wo] row-major matrix. Each worker
     * builds one channel's kh·kw rows in a heap buffer and copies them out in one bulk put; the zero
     * (padding) positions are the same for every channel, so the buffer is zeroed only once.
     */
    private void im2col(float[] x, int xOff, int channels, Geometry g, int oh0, int oh1, NativeFloats dst) {
        int n = (oh1 - oh0) * g.wo, taps = g.kh * g.kw, inPlane = g.h * g.w;
        parallel.forRange(channels, (long) taps * n, (c0, c1) -> {
            float[] rows = new float[taps * n];
            for (int c = c0; c < c1; c++) {
                int base = xOff + c * inPlane;
                for (int ki = 0; ki < g.kh; ki++) {
                    for (int kj = 0; kj < g.kw; kj++) {
                        int r = (ki * g.kw + kj) * n;
                        int owLo = Math.max(0, -Math.floorDiv(kj - g.pad, g.stride));
                        int owHi = Math.min(g.wo, Math.floorDiv(g.w - 1 + g.pad - kj, g.stride) + 1);
                        for (int oh = oh0; oh < oh1; oh++) {
                            int ih = oh * g.stride - g.pad + ki;
                            if (ih < 0 || ih >= g.h || owLo >= owHi) continue;
                            int src = base + ih * g.w - g.pad + kj, dstRow = r + (oh - oh0) * g.wo;
                            if (g.stride == 1) {
                                System.arraycopy(x, src + owLo, rows, dstRow + owLo, owHi - owLo);
                            } else {
                                for (int ow = owLo; ow < owHi; ow++) rows[dstRow + ow] = x[src + ow * g.stride];
                            }
                        }
                    }
                }
                dst.put((long) c * taps * n, rows, 0, taps * n);
            }
        });
    }

    /**
     * One filter per channel (groups = channels), a direct loop: too little work per channel for a GEMM. An input
     * bias ib (or null) is added to every in-image input value: each tap adds w·ib over the outputs it reaches.
     */
    private void depthwise(FloatTensor x, FloatTensor ib, FloatTensor w, FloatTensor b, FloatTensor out, Geometry g) {
        int channels = g.cin, batch = x.dim(0), plane = g.ho * g.wo, inPlane = g.h * g.w, taps = g.kh * g.kw;
        float[] xd = x.data(), wd = w.data(), od = out.data();
        float[] bd = b == null ? null : b.data(), ibd = ib == null ? null : ib.data();
        parallel.forRange(batch * channels, (long) plane * taps, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int c = p % channels, xBase = p * inPlane, oBase = p * plane, wBase = c * taps;
                if (bd != null) Arrays.fill(od, oBase, oBase + plane, bd[c]);
                for (int oh = 0; oh < g.ho; oh++) {
                    int oRow = oBase + oh * g.wo;
                    for (int ki = 0; ki < g.kh; ki++) {
                        int ih = oh * g.stride - g.pad + ki;
                        if (ih < 0 || ih >= g.h) continue;
                        int xRow = xBase + ih * g.w;
                        for (int kj = 0; kj < g.kw; kj++) {
                            float wv = wd[wBase + ki * g.kw + kj];
                            int owLo = Math.max(0, -Math.floorDiv(kj - g.pad, g.stride));
                            int owHi = Math.min(g.wo, Math.floorDiv(g.w - 1 + g.pad - kj, g.stride) + 1);
                            if (owLo >= owHi) continue;
                            int src = xRow - g.pad + kj;
                            if (g.stride == 1) {
                                VectorMath.axpy(wv, xd, src + owLo, od, oRow + owLo, owHi - owLo);
                                if (ibd != null) VectorMath.addScalar(od, oRow + owLo, wv * ibd[c], od, oRow + owLo, owHi - owLo);
                            } else {
                                float ibc = ibd == null ? 0f : ibd[c];
                                for (int ow = owLo; ow < owHi; ow++) od[oRow + ow] += wv * (xd[src + ow * g.stride] + ibc);
                            }
                        }
                    }
                }
            }
        });
    }

    @Override public synchronized Tensor linear(Tensor xt, Tensor wt, Tensor bt) {
        checkOpen();
        FloatTensor x = cpu(xt, "linear", "x");
        Tensor w = matrixOperand(wt, "linear", "weight");
        int[] ws = w.shape();
        FloatTensor b = bt == null ? null : cpu(bt, "linear", "bias");
        if (ws.length != 2 || x.rank() < 1 || x.dim(-1) != ws[1]) {
            throw shapes("linear", "x [..., in] needs weight [out, in]", x, w);
        }
        int in = ws[1], outF = ws[0], rows = in == 0 ? 0 : x.numel() / in;
        if (b != null && (b.rank() != 1 || b.dim(0) != outF)) throw shapes("linear", "bias must be [out]", w, b);
        int[] shape = x.shape();
        shape[shape.length - 1] = outF;
        FloatTensor out = FloatTensor.zeros(shape);
        if (rows == 0 || outF == 0) return out;
        NativeFloats wn = prepared(w, CpuWeight.Layout.PLAIN);
        NativeFloats a = scratchA.ensure((long) rows * in), c = scratchC.ensure((long) rows * outF);
        a.put(0, x.data(), 0, rows * in);
        float[] od = out.data(), bd = b == null ? null : b.data();
        if (rows >= outF) {
            // each worker: a band of rows, C[r0:r1] = A[r0:r1] · Wᵀ, then copied out with the bias
            parallel.forRange(rows, (long) in * outF, (r0, r1) -> {
                Blas.sgemm(false, true, r1 - r0, outF, in, 1f, a, (long) r0 * in, in, wn, 0, in, 0f, c, (long) r0 * outF, outF);
                c.get((long) r0 * outF, od, r0 * outF, (r1 - r0) * outF);
                if (bd != null) for (int r = r0; r < r1; r++) VectorMath.add(od, r * outF, bd, 0, od, r * outF, outF);
            });
        } else {
            // few rows (a 77-token text): each worker a band of output features, C[:, f0:f1] = A · W[f0:f1]ᵀ
            parallel.forRange(outF, (long) in * rows, (f0, f1) -> Blas.sgemm(false, true, rows, f1 - f0, in, 1f, a, 0, in,
                    wn, (long) f0 * in, in, 0f, c, f0, outF));
            c.get(0, od, 0, rows * outF);
            if (bd != null) {
                parallel.forRange(rows, outF, (r0, r1) -> {
                    for (int r = r0; r < r1; r++) VectorMath.add(od, r * outF, bd, 0, od, r * outF, outF);
                });
            }
        }
        return out;
    }

    /**
     * A weight matrix in native memory in {@code layout}: built once and kept by a {@link CpuWeight} (from
     * {@link #weight}), written into the scratch buffer on every call for any other tensor.
     */
    private NativeFloats prepared(Tensor w, CpuWeight.Layout layout) {
        if (w instanceof CpuWeight cw) return cw.layout(layout, (values, dst) -> writeLayout(layout, values, dst));
        FloatTensor f = (FloatTensor) w;
        NativeFloats dst = scratchMatrix.ensure(layout.size(f.shape()));
        writeLayout(layout, f, dst);
        return dst;
    }

    /** w's values in {@code layout} (see {@link CpuWeight.Layout}) into dst, through small heap blocks. */
    private static void writeLayout(CpuWeight.Layout layout, FloatTensor w, NativeFloats dst) {
        float[] data = w.data();
        switch (layout) {
            case PLAIN -> dst.put(0, data, 0, data.length);
            case WINOGRAD -> Winograd.transformWeights(data, w.dim(0), w.dim(1), dst);
            case TAPS -> {
                // [Cout, Cin, kh·kw] → [kh·kw][Cout][Cin], one output channel at a time
                int cout = w.dim(0), cin = w.dim(1), taps = w.dim(2) * w.dim(3);
                float[] row = new float[cin];
                for (int t = 0; t < taps; t++) {
                    for (int co = 0; co < cout; co++) {
                        for (int ci = 0; ci < cin; ci++) row[ci] = data[(co * cin + ci) * taps + t];
                        dst.put(((long) t * cout + co) * cin, row, 0, cin);
                    }
                }
            }
        }
    }

    // ---- normalisation ------------------------------------------------------------------------

    @Override public Tensor groupNorm(Tensor xt, int groups, Tensor gt, Tensor bt, float eps, boolean silu) {
        FloatTensor x = cpu(xt, "groupNorm", "x"), gamma = cpu(gt, "groupNorm", "gamma"), beta = cpu(bt, "groupNorm", "beta");
        if (x.rank() < 2) throw shapes("groupNorm", "x must be [B, C, ...]", x);
        int batch = x.dim(0), channels = x.dim(1);
        if (groups < 1 || channels % groups != 0) {
            throw shapes("groupNorm", channels + " channels cannot form " + groups + " groups", x);
        }
        if (gamma.numel() != channels || beta.numel() != channels) {
            throw shapes("groupNorm", "gamma and beta need " + channels + " elements", x, gamma, beta);
        }
        int spatial = channels == 0 || batch == 0 ? 0 : x.numel() / (batch * channels);
        int perGroup = channels / groups;
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] xd = x.data(), od = out.data(), gd = gamma.data(), bd = beta.data();
        parallel.forRange(batch * groups, (long) perGroup * spatial, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int bi = p / groups, gi = p % groups;
                int off = (bi * channels + gi * perGroup) * spatial;
                double[] mv = VectorMath.moments(xd, off, perGroup * spatial);
                double rstd = 1 / Math.sqrt(mv[1] + eps);
                for (int c = gi * perGroup; c < (gi + 1) * perGroup; c++) {
                    float a = (float) (gd[c] * rstd);
                    float s = (float) (bd[c] - mv[0] * gd[c] * rstd);
                    int co = (bi * channels + c) * spatial;
                    VectorMath.scaleShift(xd, co, a, s, silu, od, co, spatial);
                }
            }
        });
        return out;
    }

    @Override public Tensor layerNorm(Tensor xt, Tensor gt, Tensor bt, float eps) {
        FloatTensor x = cpu(xt, "layerNorm", "x"), gamma = cpu(gt, "layerNorm", "gamma"), beta = cpu(bt, "layerNorm", "beta");
        if (x.rank() < 1) throw shapes("layerNorm", "x must have a last dimension", x);
        int width = x.dim(-1);
        if (gamma.numel() != width || beta.numel() != width) {
            throw shapes("layerNorm", "gamma and beta need " + width + " elements", x, gamma, beta);
        }
        FloatTensor out = FloatTensor.zeros(x.shape());
        if (width == 0) return out;
        int rows = x.numel() / width;
        float[] xd = x.data(), od = out.data(), gd = gamma.data(), bd = beta.data();
        parallel.forRange(rows, width, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int off = r * width;
                double[] mv = VectorMath.moments(xd, off, width);
                float mean = (float) mv[0], rstd = (float) (1 / Math.sqrt(mv[1] + eps));
                normalizeRow(xd, off, mean, rstd, gd, bd, od, width);
            }
        });
        return out;
    }

    /** y = (x − mean) · rstd · γ + β over one row. */
    private static void normalizeRow(float[] x, int off, float mean, float rstd, float[] gamma, float[] beta, float[] y, int n) {
        var f = VectorMath.F;
        int bound = f.loopBound(n), i = 0;
        for (; i < bound; i += f.length()) {
            var v = jdk.incubator.vector.FloatVector.fromArray(f, x, off + i).sub(mean).mul(rstd);
            v.fma(jdk.incubator.vector.FloatVector.fromArray(f, gamma, i), jdk.incubator.vector.FloatVector.fromArray(f, beta, i))
                    .intoArray(y, off + i);
        }
        for (; i < n; i++) y[off + i] = Math.fma((x[off + i] - mean) * rstd, gamma[i], beta[i]);
    }

    @Override public Tensor layerNormChannels(Tensor xt, Tensor gt, Tensor bt, float eps) {
        FloatTensor x = cpu(xt, "layerNormChannels", "x"), gamma = cpu(gt, "layerNormChannels", "gamma"),
                beta = cpu(bt, "layerNormChannels", "beta");
        if (x.rank() != 4) throw shapes("layerNormChannels", "x must be [B, C, H, W]", x);
        int batch = x.dim(0), channels = x.dim(1), plane = x.dim(2) * x.dim(3);
        if (gamma.numel() != channels || beta.numel() != channels) {
            throw shapes("layerNormChannels", "gamma and beta need " + channels + " elements", x, gamma, beta);
        }
        FloatTensor out = FloatTensor.zeros(x.shape());
        if (channels == 0 || plane == 0) return out;
        float[] xd = x.data(), od = out.data(), gd = gamma.data(), bd = beta.data();
        final int tile = 256;
        int tilesPerImage = (plane + tile - 1) / tile;
        parallel.forRange(batch * tilesPerImage, (long) tile * channels, (t0, t1) -> {
            float[] mean = new float[tile], m2 = new float[tile];
            for (int t = t0; t < t1; t++) {
                int bi = t / tilesPerImage, p0 = (t % tilesPerImage) * tile, len = Math.min(tile, plane - p0);
                int base = bi * channels * plane + p0;
                ChannelMoments.compute(xd, base, plane, channels, len, mean, m2, eps);
                for (int c = 0; c < channels; c++) {
                    ChannelMoments.apply(xd, od, base + c * plane, len, mean, m2, gd[c], bd[c]);
                }
            }
        });
        return out;
    }

    // ---- attention ----------------------------------------------------------------------------

    @Override public synchronized Tensor attention(Tensor qt, Tensor kt, Tensor vt, int heads, float scale, AttentionMask mask) {
        checkOpen();
        FloatTensor q = cpu(qt, "attention", "q"), k = cpu(kt, "attention", "k"), v = cpu(vt, "attention", "v");
        if (q.rank() != 3 || k.rank() != 3 || !Arrays.equals(k.shape(), v.shape())
                || q.dim(0) != k.dim(0) || q.dim(2) != k.dim(2)) {
            throw shapes("attention", "q [B, Nq, C], k and v [B, Nk, C]", q, k, v);
        }
        int batch = q.dim(0), nq = q.dim(1), nk = k.dim(1), width = q.dim(2);
        if (heads < 1 || width % heads != 0) {
            throw shapes("attention", width + " channels cannot form " + heads + " heads", q);
        }
        AttentionMask m = mask == null ? AttentionMask.NONE : mask;
        IntTensor keepT = m.keyKeep() == null ? null : ints(m.keyKeep(), "attention", "mask");
        if (keepT != null) Shapes.attention(q.shape(), k.shape(), v.shape(), heads, keepT.shape());
        int[] keepAll = keepT == null ? null : keepT.data();
        FloatTensor out = FloatTensor.zeros(batch, nq, width);
        if (batch == 0 || nq == 0 || width == 0) return out;
        if (nk == 0) return out;
        int d = width / heads;
        scratchA.ensure((long) batch * nq * width).put(0, q.data(), 0, q.numel());
        scratchB.ensure((long) batch * nk * width).put(0, k.data(), 0, k.numel());
        scratchD.ensure((long) batch * nk * width).put(0, v.data(), 0, v.numel());
        NativeFloats o = scratchMatrix.ensure((long) batch * nq * width);
        int blockRows = (int) Math.max(1, Math.min(nq, scoreBlock / nk));
        int blocks = (nq + blockRows - 1) / blockRows;
        long scoreFloats = (long) blockRows * nk;
        NativeFloats scores = scratchC.ensure(scoreFloats * parallel.threads());
        // one work item = one block of queries of one head of one batch entry; each worker has its own
        // block of scores, so the products and the softmax of different items run side by side
        parallel.forWorkers(batch * heads * blocks, (long) blockRows * nk * d, (worker, item0, item1) -> {
            long sOff = worker * scoreFloats;
            float[] inv = new float[blockRows];
            for (int item = item0; item < item1; item++) {
                int bi = item / (heads * blocks), h = item / blocks % heads, i0 = item % blocks * blockRows;
                int rows = Math.min(blockRows, nq - i0);
                int[] keep = keepAll == null ? null : java.util.Arrays.copyOfRange(keepAll, bi * nk, (bi + 1) * nk);
                long qOff = ((long) bi * nq + i0) * width + (long) h * d;
                long kOff = (long) bi * nk * width + (long) h * d;
                // scores [rows, Nk] = scale · q_h · k_hᵀ
                Blas.sgemm(false, true, rows, nk, d, scale, scratchA, qOff, width, scratchB, kOff, width, 0f, scores, sOff, nk);
                for (int r = 0; r < rows; r++) {
                    int visible = m.causal() ? Math.min(nk, i0 + r + 1) : nk;
                    inv[r] = Softmax.rowUnnormalised(scores.bytes(), sOff + (long) r * nk, nk, visible, keep);
                }
                // out_h [rows, d] = (e · v_h) / Σe
                Blas.sgemm(false, false, rows, d, nk, 1f, scores, sOff, nk, scratchD, kOff, width, 0f, o, qOff, width);
                for (int r = 0; r < rows; r++) Softmax.scale(o.bytes(), qOff + (long) r * width, d, inv[r]);
            }
        });
        o.get(0, out.data(), 0, out.numel());
        return out;
    }

    // ---- activations and elementwise ----------------------------------------------------------

    @Override public Tensor silu(Tensor x) { return unary(x, "silu", VectorMath.Unary.SILU); }

    @Override public Tensor quickGelu(Tensor x) { return unary(x, "quickGelu", VectorMath.Unary.QUICK_GELU); }

    @Override public Tensor gelu(Tensor x) { return unary(x, "gelu", VectorMath.Unary.GELU); }

    private Tensor unary(Tensor xt, String op, VectorMath.Unary kind) {
        FloatTensor x = cpu(xt, op, "x");
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] xd = x.data(), od = out.data();
        parallel.forRange(x.numel(), 8, (i0, i1) -> VectorMath.apply(kind, xd, i0, od, i0, i1 - i0));
        return out;
    }

    @Override public Tensor geglu(Tensor xt) {
        FloatTensor x = cpu(xt, "geglu", "x");
        if (x.rank() < 1 || x.dim(-1) % 2 != 0) throw shapes("geglu", "the last dimension must be even", x);
        int width = x.dim(-1), half = width / 2;
        int[] shape = x.shape();
        shape[shape.length - 1] = half;
        FloatTensor out = FloatTensor.zeros(shape);
        if (half == 0) return out;
        int rows = x.numel() / width;
        float[] xd = x.data(), od = out.data();
        parallel.forRange(rows, (long) half * 8, (r0, r1) -> {
            for (int r = r0; r < r1; r++) VectorMath.mulGelu(xd, r * width, xd, r * width + half, od, r * half, half);
        });
        return out;
    }

    @Override public Tensor simpleGate(Tensor xt) {
        FloatTensor x = cpu(xt, "simpleGate", "x");
        if (x.rank() != 4 || x.dim(1) % 2 != 0) throw shapes("simpleGate", "x must be [B, 2C, H, W]", x);
        int batch = x.dim(0), half = x.dim(1) / 2, plane = x.dim(2) * x.dim(3), n = half * plane;
        FloatTensor out = FloatTensor.zeros(batch, half, x.dim(2), x.dim(3));
        float[] xd = x.data(), od = out.data();
        for (int bi = 0; bi < batch; bi++) {
            int src = bi * 2 * n, dst = bi * n;
            parallel.forRange(n, 1, (i0, i1) -> VectorMath.mul(xd, src + i0, xd, src + n + i0, od, dst + i0, i1 - i0));
        }
        return out;
    }

    /** SimpleGate of x + bias in one pass. */
    @Override public Tensor simpleGate(Tensor xt, Tensor bt) {
        if (bt == null) return simpleGate(xt);
        FloatTensor x = cpu(xt, "simpleGate", "x"), b = cpu(bt, "simpleGate", "bias");
        if (x.rank() != 4 || x.dim(1) % 2 != 0) throw shapes("simpleGate", "x must be [B, 2C, H, W]", x);
        int batch = x.dim(0), half = x.dim(1) / 2, plane = x.dim(2) * x.dim(3);
        if (b.numel() != 2 * half) throw shapes("simpleGate", "bias needs " + 2 * half + " elements", x, b);
        FloatTensor out = FloatTensor.zeros(batch, half, x.dim(2), x.dim(3));
        float[] xd = x.data(), bd = b.data(), od = out.data();
        parallel.forRange(batch * half, plane, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int bi = p / half, c = p % half, lo = (bi * 2 * half + c) * plane, hi = lo + half * plane, dst = p * plane;
                float b1 = bd[c], b2 = bd[half + c];
                for (int i = 0; i < plane; i++) od[dst + i] = (xd[lo + i] + b1) * (xd[hi + i] + b2);
            }
        });
        return out;
    }

    @Override public Tensor add(Tensor at, Tensor bt) {
        FloatTensor a = cpu(at, "add", "a"), b = cpu(bt, "add", "b");
        int[] as = a.shape(), bs = b.shape();
        boolean suffix = bs.length <= as.length
                && Arrays.equals(bs, Arrays.copyOfRange(as, as.length - bs.length, as.length));
        if (!suffix) throw shapes("add", "b must have a's shape or a suffix of it", a, b);
        FloatTensor out = FloatTensor.zeros(as);
        int n = b.numel();
        if (n == 0) return out;
        int reps = a.numel() / n;
        float[] ad = a.data(), bd = b.data(), od = out.data();
        if (reps == 1) {
            parallel.forRange(n, 1, (i0, i1) -> VectorMath.add(ad, i0, bd, i0, od, i0, i1 - i0));
        } else {
            parallel.forRange(reps, n, (r0, r1) -> {
                for (int r = r0; r < r1; r++) VectorMath.add(ad, r * n, bd, 0, od, r * n, n);
            });
        }
        return out;
    }

    @Override public Tensor mul(Tensor at, Tensor bt) {
        FloatTensor a = cpu(at, "mul", "a"), b = cpu(bt, "mul", "b");
        if (!Arrays.equals(a.shape(), b.shape())) throw shapes("mul", "shapes must be equal", a, b);
        FloatTensor out = FloatTensor.zeros(a.shape());
        float[] ad = a.data(), bd = b.data(), od = out.data();
        parallel.forRange(a.numel(), 1, (i0, i1) -> VectorMath.mul(ad, i0, bd, i0, od, i0, i1 - i0));
        return out;
    }

    @Override public Tensor scale(Tensor xt, float s) {
        FloatTensor x = cpu(xt, "scale", "x");
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] xd = x.data(), od = out.data();
        parallel.forRange(x.numel(), 1, (i0, i1) -> VectorMath.mulScalar(xd, i0, s, od, i0, i1 - i0));
        return out;
    }

    @Override public Tensor clamp(Tensor xt, float lo, float hi) {
        FloatTensor x = cpu(xt, "clamp", "x");
        if (!(lo <= hi)) throw new IllegalArgumentException("clamp: lo " + lo + " must not exceed hi " + hi);
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] xd = x.data(), od = out.data();
        parallel.forRange(x.numel(), 1, (i0, i1) -> VectorMath.clamp(xd, i0, lo, hi, od, i0, i1 - i0));
        return out;
    }

    @Override public Tensor addPerChannel(Tensor xt, Tensor vt) { return perChannel(xt, vt, "addPerChannel", true); }

    /** a + (x + bias)·scale in one pass (the same float operations, in the same order, as the composed default). */
    @Override public Tensor addScaledPerChannel(Tensor at, Tensor xt, Tensor bt, Tensor st) {
        String op = "addScaledPerChannel";
        FloatTensor a = cpu(at, op, "a"), x = cpu(xt, op, "x"), s = cpu(st, op, "scale");
        FloatTensor b = bt == null ? null : cpu(bt, op, "bias");
        if (x.rank() != 4 || !Arrays.equals(a.shape(), x.shape())) throw shapes(op, "a and x must both be [B, C, H, W]", a, x);
        int batch = x.dim(0), channels = x.dim(1), plane = x.dim(2) * x.dim(3);
        if (s.numel() != channels || (b != null && b.numel() != channels)) {
            throw shapes(op, "bias and scale need " + channels + " elements", x, s);
        }
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] ad = a.data(), xd = x.data(), sd = s.data(), od = out.data();
        float[] bd = b == null ? null : b.data();
        parallel.forRange(batch * channels, plane, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int c = p % channels, base = p * plane;
                float bias = bd == null ? 0f : bd[c], sc = sd[c];
                for (int i = base; i < base + plane; i++) od[i] = ad[i] + (xd[i] + bias) * sc;
            }
        });
        return out;
    }

    @Override public Tensor mulPerChannel(Tensor xt, Tensor vt) { return perChannel(xt, vt, "mulPerChannel", false); }

    private Tensor perChannel(Tensor xt, Tensor vt, String op, boolean add) {
        FloatTensor x = cpu(xt, op, "x"), v = cpu(vt, op, "v");
        if (x.rank() != 4) throw shapes(op, "x must be [B, C, H, W]", x);
        int batch = x.dim(0), channels = x.dim(1), plane = x.dim(2) * x.dim(3);
        boolean perImage = v.numel() == batch * channels;
        if (!perImage && v.numel() != channels) {
            throw shapes(op, "v needs " + channels + " or " + batch * channels + " elements", x, v);
        }
        FloatTensor out = FloatTensor.zeros(x.shape());
        float[] xd = x.data(), vd = v.data(), od = out.data();
        parallel.forRange(batch * channels, plane, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                float s = vd[perImage ? p : p % channels];
                if (add) VectorMath.addScalar(xd, p * plane, s, od, p * plane, plane);
                else VectorMath.mulScalar(xd, p * plane, s, od, p * plane, plane);
            }
        });
        return out;
    }

    // ---- resampling and layout ----------------------------------------------------------------

    @Override public Tensor upsampleNearest2x(Tensor xt) {
        FloatTensor x = cpu(xt, "upsampleNearest2x", "x");
        if (x.rank() != 4) throw shapes("upsampleNearest2x", "x must be [B, C, H, W]", x);
        int planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
        FloatTensor out = FloatTensor.zeros(x.dim(0), x.dim(1), 2 * h, 2 * w);
        float[] xd = x.data(), od = out.data();
        parallel.forRange(planes, 4L * h * w, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                for (int i = 0; i < h; i++) {
                    int src = (p * h + i) * w, dst = (p * 2 * h + 2 * i) * 2 * w;
                    for (int j = 0; j < w; j++) {
                        float val = xd[src + j];
                        od[dst + 2 * j] = val;
                        od[dst + 2 * j + 1] = val;
                    }
                    System.arraycopy(od, dst, od, dst + 2 * w, 2 * w);
                }
            }
        });
        return out;
    }

    @Override public Tensor pixelShuffle(Tensor xt, int r) {
        FloatTensor x = cpu(xt, "pixelShuffle", "x");
        if (r < 1 || x.rank() != 4 || x.dim(1) % (r * r) != 0) {
            throw shapes("pixelShuffle", "x must be [B, C·r², H, W] with r = " + r, x);
        }
        int batch = x.dim(0), c = x.dim(1) / (r * r), h = x.dim(2), w = x.dim(3);
        FloatTensor out = FloatTensor.zeros(batch, c, h * r, w * r);
        float[] xd = x.data(), od = out.data();
        parallel.forRange(batch * c, (long) r * r * h * w, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                for (int i = 0; i < r; i++) {
                    for (int j = 0; j < r; j++) {
                        int src = (p * r * r + i * r + j) * h * w;
                        for (int y = 0; y < h; y++) {
                            int dst = (p * h * r + y * r + i) * w * r + j, s = src + y * w;
                            for (int xx = 0; xx < w; xx++) od[dst + xx * r] = xd[s + xx];
                        }
                    }
                }
            }
        });
        return out;
    }

    @Override public Tensor globalAvgPool(Tensor xt) {
        FloatTensor x = cpu(xt, "globalAvgPool", "x");
        if (x.rank() != 4) throw shapes("globalAvgPool", "x must be [B, C, H, W]", x);
        int planes = x.dim(0) * x.dim(1), plane = x.dim(2) * x.dim(3);
        if (plane == 0) throw shapes("globalAvgPool", "empty planes have no mean", x);
        FloatTensor out = FloatTensor.zeros(x.dim(0), x.dim(1), 1, 1);
        float[] xd = x.data(), od = out.data();
        parallel.forRange(planes, plane, (p0, p1) -> {
            for (int p = p0; p < p1; p++) od[p] = (float) (VectorMath.sum(xd, p * plane, plane) / plane);
        });
        return out;
    }

    @Override public Tensor pad2d(Tensor xt, int top, int bottom, int left, int right) {
        FloatTensor x = cpu(xt, "pad2d", "x");
        if (x.rank() != 4) throw shapes("pad2d", "x must be [B, C, H, W]", x);
        if (top < 0 || bottom < 0 || left < 0 || right < 0) {
            throw new IllegalArgumentException("pad2d: negative padding " + top + ", " + bottom + ", " + left + ", " + right);
        }
        int h = x.dim(2), w = x.dim(3), ho = top + h + bottom, wo = left + w + right;
        FloatTensor out = FloatTensor.zeros(x.dim(0), x.dim(1), ho, wo);
        copyWindow(x.data(), h, w, 0, 0, out.data(), ho, wo, top, left, h, w, x.dim(0) * x.dim(1));
        return out;
    }

    @Override public Tensor crop2d(Tensor xt, int top, int left, int h, int w) {
        FloatTensor x = cpu(xt, "crop2d", "x");
        if (x.rank() != 4) throw shapes("crop2d", "x must be [B, C, H, W]", x);
        if (top < 0 || left < 0 || h < 0 || w < 0 || top + h > x.dim(2) || left + w > x.dim(3)) {
            throw shapes("crop2d", "window top " + top + ", left " + left + ", " + h + "×" + w + " is outside", x);
        }
        FloatTensor out = FloatTensor.zeros(x.dim(0), x.dim(1), h, w);
        copyWindow(x.data(), x.dim(2), x.dim(3), top, left, out.data(), h, w, 0, 0, h, w, x.dim(0) * x.dim(1));
        return out;
    }

    /** Copies an h×w window per plane from (sTop, sLeft) of src planes to (dTop, dLeft) of dst planes. */
    private void copyWindow(float[] src, int sh, int sw, int sTop, int sLeft, float[] dst, int dh, int dw,
                            int dTop, int dLeft, int h, int w, int planes) {
        parallel.forRange(planes, (long) h * w, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                for (int y = 0; y < h; y++) {
                    System.arraycopy(src, (p * sh + sTop + y) * sw + sLeft, dst, (p * dh + dTop + y) * dw + dLeft, w);
                }
            }
        });
    }

    @Override public Tensor concat(List<Tensor> parts, int dim) {
        if (parts == null || parts.isEmpty()) throw new IllegalArgumentException("concat: no tensors");
        FloatTensor[] xs = new FloatTensor[parts.size()];
        for (int i = 0; i < xs.length; i++) xs[i] = cpu(parts.get(i), "concat", "part " + i);
        int rank = xs[0].rank();
        if (dim < 0 || dim >= rank) throw shapes("concat", "dimension " + dim + " out of range", xs);
        int[] shape = xs[0].shape();
        int total = 0;
        for (FloatTensor t : xs) {
            int[] s = t.shape();
            if (s.length != rank) throw shapes("concat", "ranks differ", xs);
            for (int i = 0; i < rank; i++) {
                if (i != dim && s[i] != shape[i]) throw shapes("concat", "dimensions other than " + dim + " differ", xs);
            }
            total += s[dim];
        }
        shape[dim] = total;
        FloatTensor out = FloatTensor.zeros(shape);
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < rank; i++) inner *= shape[i];
        float[] od = out.data();
        int at = 0;
        for (FloatTensor t : xs) {
            int chunk = t.dim(dim) * inner, offset = at * inner, rowOut = total * inner;
            float[] td = t.data();
            for (int o = 0; o < outer; o++) System.arraycopy(td, o * chunk, od, o * rowOut + offset, chunk);
            at += t.dim(dim);
        }
        return out;
    }

    @Override public Tensor slice(Tensor xt, int dim, int from, int to) {
        FloatTensor x = cpu(xt, "slice", "x");
        if (dim < 0 || dim >= x.rank() || from < 0 || to < from || to > x.dim(dim)) {
            throw shapes("slice", "[" + from + ", " + to + ") along dimension " + dim + " is out of range", x);
        }
        int[] shape = x.shape();
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        int rowIn = shape[dim] * inner;
        shape[dim] = to - from;
        FloatTensor out = FloatTensor.zeros(shape);
        int chunk = (to - from) * inner;
        float[] xd = x.data(), od = out.data();
        for (int o = 0; o < outer; o++) System.arraycopy(xd, o * rowIn + from * inner, od, o * chunk, chunk);
        return out;
    }

    @Override public Tensor nchwToTokens(Tensor xt) {
        FloatTensor x = cpu(xt, "nchwToTokens", "x");
        if (x.rank() != 4) throw shapes("nchwToTokens", "x must be [B, C, H, W]", x);
        int batch = x.dim(0), c = x.dim(1), n = x.dim(2) * x.dim(3);
        FloatTensor out = FloatTensor.zeros(batch, n, c);
        transpose(x.data(), out.data(), batch, c, n);
        return out;
    }

    @Override public Tensor tokensToNchw(Tensor xt, int h, int w) {
        FloatTensor x = cpu(xt, "tokensToNchw", "x");
        if (x.rank() != 3 || h < 0 || w < 0 || (long) h * w != x.dim(1)) {
            throw shapes("tokensToNchw", "x must be [B, " + h + "·" + w + ", C]", x);
        }
        int batch = x.dim(0), n = x.dim(1), c = x.dim(2);
        FloatTensor out = FloatTensor.zeros(batch, c, h, w);
        transpose(x.data(), out.data(), batch, n, c);
        return out;
    }

    /** Per batch entry, src [rows, cols] → dst [cols, rows], in 32×32 tiles. */
    private void transpose(float[] src, float[] dst, int batch, int rows, int cols) {
        final int t = 32;
        int rowTiles = (rows + t - 1) / t;
        parallel.forRange(batch * rowTiles, (long) t * cols, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int bi = p / rowTiles, r0 = (p % rowTiles) * t, r1 = Math.min(rows, r0 + t);
                int base = bi * rows * cols;
                for (int c0 = 0; c0 < cols; c0 += t) {
                    int c1 = Math.min(cols, c0 + t);
                    for (int r = r0; r < r1; r++) {
                        for (int c = c0; c < c1; c++) dst[base + c * rows + r] = src[base + r * cols + c];
                    }
                }
            }
        });
    }

    @Override public Tensor embedding(Tensor tt, Tensor idsT) {
        FloatTensor table = cpu(tt, "embedding", "table");
        IntTensor ids = ints(idsT, "embedding", "ids");
        int[] y = Shapes.embedding(table.shape(), ids.shape());
        int vocab = table.dim(0), c = table.dim(1), n = ids.dim(1);
        FloatTensor out = FloatTensor.zeros(y);
        int[] id = ids.data();
        for (int i = 0; i < id.length; i++) {
            if (id[i] < 0 || id[i] >= vocab) {
                throw new IllegalArgumentException("embedding: id " + id[i] + " at [" + i / n + "][" + i % n
                        + "] is outside the table of " + vocab + " rows");
            }
            System.arraycopy(table.data(), id[i] * c, out.data(), i * c, c);
        }
        return out;
    }

    @Override public Tensor gatherRows(Tensor xt, Tensor rowsT) {
        FloatTensor x = cpu(xt, "gatherRows", "x");
        IntTensor rows = ints(rowsT, "gatherRows", "rows");
        FloatTensor out = FloatTensor.zeros(Shapes.gatherRows(x.shape(), rows.shape()));
        int n = x.dim(1), c = x.dim(2);
        for (int bi = 0; bi < rows.numel(); bi++) {
            int r = rows.data()[bi];
            if (r < 0 || r >= n) throw shapes("gatherRows", "row " + r + " of batch entry " + bi + " is outside [0, " + n + ")", x);
            System.arraycopy(x.data(), (bi * n + r) * c, out.data(), bi * c, c);
        }
        return out;
    }

    @Override public Tensor argmax(Tensor xt) {
        int[] s = xt.shape();
        Shapes.argmax(s);
        int rows = s[0], n = s[1];
        int[] out = new int[rows];
        if (xt instanceof IntTensor it) {
            for (int r = 0; r < rows; r++) {
                int best = 0;
                for (int j = 1; j < n; j++) if (it.data()[r * n + j] > it.data()[r * n + best]) best = j;
                out[r] = best;
            }
        } else {
            float[] d = cpu(xt, "argmax", "x").data();
            for (int r = 0; r < rows; r++) {
                int best = 0;
                for (int j = 1; j < n; j++) if (d[r * n + j] > d[r * n + best]) best = j;   // the first maximum, as torch
                out[r] = best;
            }
        }
        return new IntTensor(out, rows);
    }

    @Override public Tensor softmax(Tensor xt) {
        FloatTensor x = cpu(xt, "softmax", "x");
        int n = Shapes.lastDim("softmax", x.shape())[x.rank() - 1];
        float[] d = x.data(), o = new float[d.length];
        for (int r = 0; n > 0 && r < d.length / n; r++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) max = Math.max(max, d[r * n + j]);
            double sum = 0;
            for (int j = 0; j < n; j++) {
                o[r * n + j] = (float) Math.exp(d[r * n + j] - max);
                sum += o[r * n + j];
            }
            float inv = (float) sum;
            for (int j = 0; j < n; j++) o[r * n + j] = o[r * n + j] / inv;
        }
        return new FloatTensor(o, x.shape());
    }

    @Override public Tensor normalizeRows(Tensor xt) {
        FloatTensor x = cpu(xt, "normalizeRows", "x");
        int n = Shapes.lastDim("normalizeRows", x.shape())[x.rank() - 1];
        float[] d = x.data(), o = new float[d.length];
        for (int r = 0; n > 0 && r < d.length / n; r++) {
            double ss = 0;
            for (int j = 0; j < n; j++) ss += (double) d[r * n + j] * d[r * n + j];
            float norm = (float) Math.sqrt(ss);
            for (int j = 0; j < n; j++) o[r * n + j] = d[r * n + j] / norm;
        }
        return new FloatTensor(o, x.shape());
    }

    @Override public Tensor matmul(Tensor at, Tensor bt) {
        FloatTensor a = cpu(at, "matmul", "a"), b = cpu(bt, "matmul", "b");
        int[] y = Shapes.matmul(a.shape(), b.shape());
        int m = y[0], n = y[1], k = a.dim(1);
        float[] ad = a.data(), bd = b.data(), o = new float[m * n];
        // row by row in float32, in the order of the reduction index, as torch.mm does for these small products
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                float av = ad[i * k + p];
                int bo = p * n, oo = i * n;
                for (int j = 0; j < n; j++) o[oo + j] += av * bd[bo + j];
            }
        }
        return new FloatTensor(o, m, n);
    }

    @Override public Tensor exp(Tensor xt) {
        FloatTensor x = cpu(xt, "exp", "x");
        float[] d = x.data(), o = new float[d.length];
        for (int i = 0; i < d.length; i++) o[i] = (float) Math.exp(d[i]);
        return new FloatTensor(o, x.shape());
    }

    @Override public Tensor mulScalar(Tensor xt, Tensor st) {
        FloatTensor x = cpu(xt, "mulScalar", "x"), s = cpu(st, "mulScalar", "s");
        Shapes.scalar("mulScalar", x.shape(), s.shape());
        return scale(x, s.data()[0]);
    }

    @Override public Tensor clipPixelValues(Tensor image, int size, float[] mean, float[] std) {
        FloatTensor x = cpu(image, "clipPixelValues", "image");
        Shapes.clipPixelValues(x.shape(), size, mean, std);
        return CLIPImageProcessor.pixelValues(x, size, mean, std);
    }

    // ---- warm-up ------------------------------------------------------------------------------

    /**
     * Runs every kernel on small inputs until the JIT has compiled it. Until then the Vector API code
     * runs interpreted or in C1 and is tens of times slower: a cold first GroupNorm over 128×512×512
     * takes ~0.5 s instead of ~20 ms. Stages that run once per image (the VAE, the SCM) pay that on
     * every kernel unless this ran first. Optional; takes a second or two of CPU; results are
     * discarded. Returns the milliseconds it took.
     */
    public synchronized long warmUp() {
        checkOpen();
        long t0 = System.nanoTime();
        java.util.Random r = new java.util.Random(1);
        java.util.function.Function<int[], FloatTensor> rnd = shape -> {
            FloatTensor t = FloatTensor.zeros(shape);
            for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) r.nextGaussian();
            return t;
        };
        FloatTensor x = rnd.apply(new int[] {1, 32, 12, 12}), c = rnd.apply(new int[] {32});
        FloatTensor w3 = rnd.apply(new int[] {32, 32, 3, 3}), w1 = rnd.apply(new int[] {32, 32, 1, 1});
        FloatTensor wd = rnd.apply(new int[] {32, 1, 3, 3}), w5 = rnd.apply(new int[] {8, 32, 5, 5});
        FloatTensor wSmall = rnd.apply(new int[] {32, 4, 3, 3}), xSmall = rnd.apply(new int[] {1, 4, 12, 12});
        FloatTensor seq = rnd.apply(new int[] {1, 20, 32}), lw = rnd.apply(new int[] {48, 32}), lb = rnd.apply(new int[] {48});
        AttentionMask pad = AttentionMask.of(true, new int[][] {java.util.stream.IntStream.range(0, 20).map(i -> i < 15 ? 1 : 0).toArray()});
        for (int i = 0; i < 120; i++) {
            conv2d(x, w3, c, 1, 1, 1);                 // Winograd
            conv2d(x, w3, c, 2, 1, 1);                 // shifted, stride 2
            conv2d(x, w5, null, 1, 2, 1);              // shifted, stride 1
            conv2d(x, w1, c, 1, 0, 1);                 // 1x1
            conv2d(xSmall, wSmall, c, 1, 1, 1);        // im2col
            conv2d(x, wd, c, 1, 1, 32);                // depthwise
            linear(seq, lw, lb);
            linear(rnd.apply(new int[] {1, 64, 32}), lw, lb);
            groupNorm(x, 8, c, c, 1e-5f, true);
            groupNorm(x, 8, c, c, 1e-5f, false);
            layerNorm(seq, c, c, 1e-5f);
            layerNormChannels(x, c, c, 1e-6f);
            attention(seq, seq, seq, 4, 0.35f, AttentionMask.NONE);
            attention(seq, seq, seq, 4, 0.35f, pad);
            silu(x);
            quickGelu(x);
            gelu(x);
            geglu(seq);
            simpleGate(x);
            add(x, x);
            add(x, rnd.apply(new int[] {12}));
            mul(x, x);
            scale(x, 0.5f);
            clamp(x, -1, 1);
            addPerChannel(x, c);
            mulPerChannel(x, c);
            upsampleNearest2x(x);
            pixelShuffle(x, 2);
            globalAvgPool(x);
            pad2d(x, 0, 1, 0, 1);
            crop2d(x, 1, 1, 10, 10);
            concat(List.of(x, x), 1);
            slice(x, 1, 0, 16);
            tokensToNchw(nchwToTokens(x), 12, 12);
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    // ---- lifetime and helpers -----------------------------------------------------------------

    /** Bytes of native memory held now by the weights' layouts (see {@link CpuWeight.Layout}). */
    public synchronized long nativeWeightBytes() {
        long b = 0;
        for (Map<String, Tensor> perStore : weights.values()) {
            for (Tensor t : perStore.values()) if (t instanceof CpuWeight w) b += w.nativeBytes();
        }
        return b;
    }

    /** Every weight handed out so far that owns native layouts (for tests). */
    synchronized List<CpuWeight> cachedWeights() {
        List<CpuWeight> out = new java.util.ArrayList<>();
        for (Map<String, Tensor> perStore : weights.values()) {
            for (Tensor t : perStore.values()) if (t instanceof CpuWeight w) out.add(w);
        }
        return out;
    }

    /** Bytes of native memory held now by the scratch buffers (they grow to the largest layer seen). */
    public synchronized long nativeScratchBytes() {
        long floats = scratchA.capacity() + scratchB.capacity() + scratchC.capacity() + scratchD.capacity()
                + scratchMatrix.capacity();
        return floats * Float.BYTES;
    }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        for (Map<String, Tensor> perStore : weights.values()) {
            for (Tensor t : perStore.values()) if (t instanceof CpuWeight w) w.free();
        }
        weights.clear();
        scratchMatrix.close();
        scratchD.close();
        scratchC.close();
        scratchB.close();
        scratchA.close();
        parallel.close();
    }

    @Override public Tensor timestepEmbedding(Tensor t, int dim) {
        return DiffusionMath.timestepEmbedding(cpu(t, "timestepEmbedding", "t"), dim);
    }

    @Override public Tensor cfgCombine(Tensor cond, Tensor imgCond, Tensor uncond, float sText, float sImg) {
        return DiffusionMath.cfgCombine(cpu(cond, "cfgCombine", "cond"), cpu(imgCond, "cfgCombine", "imgCond"),
                cpu(uncond, "cfgCombine", "uncond"), sText, sImg);
    }

    @Override public Tensor eulerAncestralStep(Tensor z, Tensor denoised, Tensor noise, float sigma, float sigmaDown, float sigmaUp) {
        return DiffusionMath.eulerAncestralStep(cpu(z, "eulerAncestralStep", "z"), cpu(denoised, "eulerAncestralStep", "denoised"),
                noise == null ? null : cpu(noise, "eulerAncestralStep", "noise"), sigma, sigmaDown, sigmaUp);
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("cpu backend is closed");
    }

    /** t's values on the heap: a FloatTensor as it is, a weight's heap values (brought back if dropped). */
    private static FloatTensor cpu(Tensor t, String op, String what) {
        if (t instanceof FloatTensor f) return f;
        if (t instanceof CpuWeight w) return w.heap();
        throw notCpu(t, op, what);
    }

    private static IntTensor ints(Tensor t, String op, String what) {
        if (t instanceof IntTensor i) return i;
        if (t == null) throw new IllegalArgumentException(op + ": " + what + " is null");
        throw new IllegalArgumentException(op + ": " + what + " must be an int32 cpu tensor (IntTensor), got " + t);
    }

    /** A matrix operand (convolution or linear weight) as it is, FloatTensor or CpuWeight: no heap values needed. */
    private static Tensor matrixOperand(Tensor t, String op, String what) {
        if (t instanceof FloatTensor || t instanceof CpuWeight) return t;
        throw notCpu(t, op, what);
    }

    /** The heap values of a checked matrix operand (for the paths that read weights on the heap). */
    private static FloatTensor heapOperand(Tensor t) {
        return t instanceof CpuWeight w ? w.heap() : (FloatTensor) t;
    }

    private static IllegalArgumentException notCpu(Tensor t, String op, String what) {
        if (t == null) return new IllegalArgumentException(op + ": " + what + " is null");
        return new IllegalArgumentException(op + ": " + what + " is a " + t.getClass().getSimpleName()
                + ", not a cpu tensor (FloatTensor)");
    }

    private static IllegalArgumentException shapes(String op, String problem, Tensor... ts) {
        StringBuilder sb = new StringBuilder(op).append(": ").append(problem).append("; shapes");
        for (Tensor t : ts) sb.append(' ').append(Arrays.toString(t.shape()));
        return new IllegalArgumentException(sb.toString());
    }
}
