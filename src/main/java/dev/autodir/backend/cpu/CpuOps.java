package dev.autodir.backend.cpu;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import static dev.autodir.backend.cpu.CpuTensors.cpu;
import static dev.autodir.backend.cpu.CpuTensors.ints;

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
 *
 * <p>Code: this class holds the weights, the scratch buffers, the worker pool and the lock, and hands each operation
 * to its part: {@link CpuDense} (the convolution algorithms and linear layers), {@link CpuAttention},
 * {@link CpuNormalization}, {@link CpuElementwise} (activations, elementwise and per-channel arithmetic, row-wise
 * reductions) and {@link CpuLayout} (resampling, layout, gathers).
 */
public final class CpuOps implements Ops {
    /** Upper bound of an im2col block (floats, 16 MiB); larger convolutions go in bands of output rows. */
    static final long COLUMN_BLOCK = 4L << 20;
    /** Output band of the shifted-window convolution (floats, 8 MiB): Cout × rows · padded width. */
    static final long SHIFT_BAND = 2L << 20;
    /** Tiles (2×2 outputs each) per band of the Winograd convolution. */
    static final long WINOGRAD_TILES = 512;
    /** Upper bound of one block of attention scores (floats, 4 MiB): query rows × keys. */
    static final long SCORE_BLOCK = 1L << 20;

    private final Parallel parallel;
    private final boolean cacheNativeWeights;
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
    private final CpuElementwise elementwise;
    private final CpuNormalization norms;
    private final CpuLayout layout;
    private final CpuDense dense;
    private final CpuAttention attention;
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
        this.cacheNativeWeights = cacheNativeWeights;
        Blas.useCallerThreadsOnly();
        Blas.warnAboutCoreType();
        this.elementwise = new CpuElementwise(parallel);
        this.norms = new CpuNormalization(parallel);
        this.layout = new CpuLayout(parallel);
        this.dense = new CpuDense(parallel, elementwise, scratchA, scratchB, scratchC, scratchMatrix, columnBlock, shiftBand, winogradTiles);
        this.attention = new CpuAttention(parallel, scratchA, scratchB, scratchC, scratchD, scratchMatrix, scoreBlock);
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
        return x.reshape(Shapes.reshape(x.shape(), shape));
    }

    // ---- dense layers (CpuDense) ---------------------------------------------------------------

    @Override public synchronized Tensor conv2d(Tensor xt, Tensor wt, Tensor bt, int stride, int padding, int groups) {
        checkOpen();
        return dense.conv2d(xt, null, wt, bt, stride, padding, groups);
    }

    /** The depthwise loop takes the input bias as it reads (no extra pass); other shapes add it first. */
    @Override public synchronized Tensor conv2dWithInputBias(Tensor xt, Tensor ibt, Tensor wt, Tensor bt, int stride, int padding, int groups) {
        checkOpen();
        return dense.conv2d(xt, ibt, wt, bt, stride, padding, groups);
    }

    @Override public synchronized Tensor linear(Tensor x, Tensor w, Tensor b) {
        checkOpen();
        return dense.linear(x, w, b);
    }

    // ---- normalisation (CpuNormalization) --------------------------------------------------------

    @Override public Tensor groupNorm(Tensor x, int groups, Tensor g, Tensor b, float eps, boolean silu) { return norms.groupNorm(x, groups, g, b, eps, silu); }

    @Override public Tensor layerNorm(Tensor x, Tensor g, Tensor b, float eps) { return norms.layerNorm(x, g, b, eps); }

    @Override public Tensor layerNormChannels(Tensor x, Tensor g, Tensor b, float eps) { return norms.layerNormChannels(x, g, b, eps); }

    // ---- attention (CpuAttention) ------------------------------------------------------------------

    @Override public synchronized Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, AttentionMask mask) {
        checkOpen();
        return attention.attention(q, k, v, heads, scale, mask);
    }

    // ---- activations, elementwise, row-wise reductions (CpuElementwise) ----------------------------

    @Override public Tensor silu(Tensor x) { return elementwise.silu(x); }

    @Override public Tensor quickGelu(Tensor x) { return elementwise.quickGelu(x); }

    @Override public Tensor gelu(Tensor x) { return elementwise.gelu(x); }

    @Override public Tensor geglu(Tensor x) { return elementwise.geglu(x); }

    @Override public Tensor simpleGate(Tensor x) { return elementwise.simpleGate(x); }

    /** SimpleGate of x + bias in one pass. */
    @Override public Tensor simpleGate(Tensor x, Tensor bias) { return elementwise.simpleGate(x, bias); }

    @Override public Tensor add(Tensor a, Tensor b) { return elementwise.add(a, b); }

    @Override public Tensor mul(Tensor a, Tensor b) { return elementwise.mul(a, b); }

    @Override public Tensor scale(Tensor x, float s) { return elementwise.scale(x, s); }

    @Override public Tensor clamp(Tensor x, float lo, float hi) { return elementwise.clamp(x, lo, hi); }

    @Override public Tensor addPerChannel(Tensor x, Tensor v) { return elementwise.addPerChannel(x, v); }

    /** a + (x + bias)·scale in one pass (the same float operations, in the same order, as the composed default). */
    @Override public Tensor addScaledPerChannel(Tensor a, Tensor x, Tensor bias, Tensor scale) { return elementwise.addScaledPerChannel(a, x, bias, scale); }

    @Override public Tensor mulPerChannel(Tensor x, Tensor v) { return elementwise.mulPerChannel(x, v); }

    @Override public Tensor argmax(Tensor x) { return elementwise.argmax(x); }

    @Override public Tensor softmax(Tensor x) { return elementwise.softmax(x); }

    @Override public Tensor normalizeRows(Tensor x) { return elementwise.normalizeRows(x); }

    @Override public Tensor matmul(Tensor a, Tensor b) { return elementwise.matmul(a, b); }

    @Override public Tensor exp(Tensor x) { return elementwise.exp(x); }

    @Override public Tensor mulScalar(Tensor x, Tensor s) { return elementwise.mulScalar(x, s); }

    // ---- resampling, layout and gathers (CpuLayout) --------------------------------------------------

    @Override public Tensor upsampleNearest2x(Tensor x) { return layout.upsampleNearest2x(x); }

    @Override public Tensor pixelShuffle(Tensor x, int r) { return layout.pixelShuffle(x, r); }

    @Override public Tensor globalAvgPool(Tensor x) { return layout.globalAvgPool(x); }

    @Override public Tensor pad2d(Tensor x, int top, int bottom, int left, int right) { return layout.pad2d(x, top, bottom, left, right); }

    @Override public Tensor crop2d(Tensor x, int top, int left, int h, int w) { return layout.crop2d(x, top, left, h, w); }

    @Override public Tensor concat(List<Tensor> parts, int dim) { return layout.concat(parts, dim); }

    @Override public Tensor slice(Tensor x, int dim, int from, int to) { return layout.slice(x, dim, from, to); }

    @Override public Tensor nchwToTokens(Tensor x) { return layout.nchwToTokens(x); }

    @Override public Tensor tokensToNchw(Tensor x, int h, int w) { return layout.tokensToNchw(x, h, w); }

    @Override public Tensor embedding(Tensor table, Tensor ids) { return layout.embedding(table, ids); }

    @Override public Tensor gatherRows(Tensor x, Tensor rows) { return layout.gatherRows(x, rows); }

    @Override public Tensor clipPixelValues(Tensor image, int size, float[] mean, float[] std) { return layout.clipPixelValues(image, size, mean, std); }

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
}
