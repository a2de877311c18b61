package dev.autodir.backend;

import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.util.List;

/**
 * The operations every backend implements. The network definitions (UNet, VAE, CLIP, SCM) are written
 * once against this interface and never know which backend runs them.
 *
 * <p>Conventions: images and latents are NCHW; sequences are [batch, tokens, width]; weights keep the
 * PyTorch layouts of the checkpoint (convolution [out, in/groups, kh, kw], linear [out, in]). Every
 * operation returns a new tensor and leaves its inputs unchanged. Shapes are checked: a mismatch throws
 * {@link IllegalArgumentException} naming the operation and both shapes.
 *
 * <p>Lifetime: results are transient (see {@link Tensor}); weights returned by {@link #weight} live
 * until the backend is closed.
 *
 * <p>Networks: {@link #compile} turns a {@link Network} (a function over these operations with named, statically
 * shaped inputs) into a {@link CompiledNetwork}. The cpu backend runs it eagerly; the cuda backend captures it as a
 * CUDA graph; runtimes (ONNX Runtime, TensorRT) build an engine from its recorded graph. Inside a network nothing
 * reads back to the host: token ids, masks and indices are int32 input tensors.
 */
public interface Ops extends AutoCloseable {

    /** A short name: "cpu", "cuda", ... */
    String name();

    /** The precision this backend stores weights and activations in (the cpu backend: always float32). */
    default Precision precision() { return Precision.FP32; }
    /** What runs the operations, for reports: device, versions, precision, choices made (default: the name). */
    default String describe() { return name(); }

    // ---- data movement ------------------------------------------------------------------------

    /** A backend tensor holding a copy of host data. */
    Tensor upload(FloatTensor host);

    /**
     * A backend tensor holding an exact float32 copy of host data, whatever the backend's storage precision: for
     * values FP16 would damage, such as fractional timesteps (981.37 would become 981.5).
     */
    default Tensor uploadFloat32(FloatTensor host) { return upload(host); }

    /** A backend int32 tensor holding a copy of host ids, masks or indices. */
    Tensor upload(IntTensor host);

    /** A host copy (float32) of a backend float tensor. */
    FloatTensor download(Tensor t);

    /** A host copy of a backend int32 tensor. */
    IntTensor downloadInts(Tensor t);

    /**
     * The checkpoint tensor {@code key} of {@code store} in this backend's format, converted or
     * uploaded once and cached until {@link #close()}.
     */
    Tensor weight(WeightStore store, String key);

    /** Frees the transient tensors of the current stage (no-op where memory is garbage-collected). */
    default void endStage() { }

    /**
     * Waits until every operation issued so far has finished (device backends queue work asynchronously); a no-op
     * where operations complete before they return. For timing and profiling, never needed for correctness.
     */
    default void synchronize() { }

    /**
     * A copy of {@code t} (a tensor of this backend) that outlives {@link #endStage()} and the next run of the
     * network that made it: for data that crosses stages or passes. The caller closes it. This default goes through
     * the host; device backends copy on the device, and the cpu backend returns {@code t} itself (its tensors are
     * never freed under the caller).
     */
    default Tensor keep(Tensor t) {
        return switch (t.dataType()) {
            case INT32 -> upload(downloadInts(t));
            case FLOAT16 -> upload(download(t));
            case FLOAT32 -> uploadFloat32(download(t));
        };
    }

    /**
     * The network compiled for this backend at its input specs: an executable with named inputs and outputs. This
     * default runs the network's operations eagerly on this backend at every {@link CompiledNetwork#run}; backends
     * that build graphs or engines override it. The caller closes the result.
     */
    default CompiledNetwork compile(Network network) { return new EagerNetwork(this, network); }

    /** A view with another shape over the same elements (the element count must match). */
    Tensor reshape(Tensor x, int... shape);

    // ---- dense layers -------------------------------------------------------------------------

    /**
     * 2-D convolution with zero padding on all four sides.
     * x [B, Cin, H, W], w [Cout, Cin/groups, kh, kw], bias [Cout] or null → [B, Cout, Ho, Wo].
     */
    Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, int groups);

    /** x [..., in] · wᵀ + bias; w [out, in], bias [out] or null → [..., out]. */
    Tensor linear(Tensor x, Tensor w, Tensor bias);

    // ---- normalisation ------------------------------------------------------------------------

    /** GroupNorm over x [B, C, ...] (biased variance), affine per channel, then SiLU when {@code silu}. */
    Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu);

    /** LayerNorm over the last dimension (biased variance), affine. */
    Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps);

    /** LayerNorm over the channels of x [B, C, H, W] at each pixel (NAFNet's LayerNorm2d). */
    Tensor layerNormChannels(Tensor x, Tensor gamma, Tensor beta, float eps);

    // ---- attention ----------------------------------------------------------------------------

    /**
     * Multi-head scaled dot-product attention. q [B, Nq, C], k and v [B, Nk, C]; the C columns are
     * {@code heads} heads of C/heads each; softmax(scale · q·kᵀ) · v per head → [B, Nq, C].
     */
    Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, AttentionMask mask);

    // ---- activations and elementwise ----------------------------------------------------------

    Tensor silu(Tensor x);

    /** x · sigmoid(1.702 x) (CLIP's quick_gelu). */
    Tensor quickGelu(Tensor x);

    /** Exact GELU with erf. */
    Tensor gelu(Tensor x);

    /** x [..., 2F] → a · gelu(g) [..., F] with (a, g) the two halves of the last dimension. */
    Tensor geglu(Tensor x);

    /** x [B, 2C, H, W] → first half · second half of the channels [B, C, H, W] (NAFNet's SimpleGate). */
    Tensor simpleGate(Tensor x);

    /** a + b, where b has a's shape or a suffix of it (then it repeats over a's leading dimensions). */
    Tensor add(Tensor a, Tensor b);

    /** Elementwise a · b (same shapes). */
    Tensor mul(Tensor a, Tensor b);

    /** x · s. */
    Tensor scale(Tensor x, float s);

    /** x · s for a tensor s of one element (e.g. a weight such as exp(logit_scale)). */
    Tensor mulScalar(Tensor x, Tensor s);

    /** e^x elementwise (float32). */
    Tensor exp(Tensor x);

    /** min(max(x, lo), hi). */
    Tensor clamp(Tensor x, float lo, float hi);

    /** x [B, C, H, W] + v, v [B, C] or [C] (or anything with B·C or C elements), broadcast over H, W. */
    Tensor addPerChannel(Tensor x, Tensor v);

    /** x [B, C, H, W] · v, v [B, C] or [C] (or anything with B·C or C elements), broadcast over H, W. */
    Tensor mulPerChannel(Tensor x, Tensor v);

    // ---- reductions and products of activations (CLIP's logits, BIQA's softmax and prompt mix) ----------

    /** Softmax over the last dimension, in float32 with max subtraction. */
    Tensor softmax(Tensor x);

    /** x / ‖x‖₂ over the last dimension (the norm accumulated in float32 or wider). */
    Tensor normalizeRows(Tensor x);

    /** a [M, K] · b [K, N] → [M, N] for two activations (no weight layout). */
    Tensor matmul(Tensor a, Tensor b);

    /** The first index of the largest value along the last dimension: x [B, N] (int32 or float) → int32 [B]. */
    Tensor argmax(Tensor x);

    // ---- fused forms (NAFNet's bias folding); the defaults compose the operations above ----------

    /**
     * conv2d(x + inputBias, w, bias, ...) with inputBias [C_in] added to every pixel of its channel before the zero
     * padding (padded taps stay zero): a preceding 1x1 convolution's bias folded into this one. inputBias null: conv2d.
     */
    default Tensor conv2dWithInputBias(Tensor x, Tensor inputBias, Tensor w, Tensor bias, int stride, int padding, int groups) {
        return conv2d(inputBias == null ? x : addPerChannel(x, inputBias), w, bias, stride, padding, groups);
    }

    /** a + (x + bias) · scale for a, x [B, C, H, W] and bias, scale per channel (C elements); bias may be null. */
    default Tensor addScaledPerChannel(Tensor a, Tensor x, Tensor bias, Tensor scale) {
        return add(a, mulPerChannel(bias == null ? x : addPerChannel(x, bias), scale));
    }

    /** simpleGate(x + bias) for x [B, 2C, H, W], bias per channel (2C elements) or null. */
    default Tensor simpleGate(Tensor x, Tensor bias) {
        return simpleGate(bias == null ? x : addPerChannel(x, bias));
    }

    // ---- resampling and layout ----------------------------------------------------------------

    /** Nearest-neighbour ×2 upsampling of x [B, C, H, W] → [B, C, 2H, 2W]. */
    Tensor upsampleNearest2x(Tensor x);

    /** PixelShuffle: [B, C·r², H, W] → [B, C, H·r, W·r]. */
    Tensor pixelShuffle(Tensor x, int r);

    /** Mean over H and W: x [B, C, H, W] → [B, C, 1, 1]. */
    Tensor globalAvgPool(Tensor x);

    /** Zero padding of x [B, C, H, W] → [B, C, top+H+bottom, left+W+right]. */
    Tensor pad2d(Tensor x, int top, int bottom, int left, int right);

    /** The window x[:, :, top:top+h, left:left+w]. */
    Tensor crop2d(Tensor x, int top, int left, int h, int w);

    /** Concatenation along {@code dim} (all other dimensions equal). */
    Tensor concat(List<Tensor> parts, int dim);

    /** x restricted to [from, to) along {@code dim}. */
    Tensor slice(Tensor x, int dim, int from, int to);

    /** [B, C, H, W] → [B, H·W, C]. */
    Tensor nchwToTokens(Tensor x);

    /** [B, H·W, C] → [B, C, H, W]. */
    Tensor tokensToNchw(Tensor x, int h, int w);

    /**
     * Rows of {@code table} [V, C] for int32 ids [B, N] → [B, N, C]. An id outside [0, V) throws where the backend
     * can see it (on the host); device backends give a zero row.
     */
    Tensor embedding(Tensor table, Tensor ids);

    /** One row per batch entry: x [B, N, C], int32 rows [B] with rows[b] in [0, N) → [B, C] (range as for embedding). */
    Tensor gatherRows(Tensor x, Tensor rows);

    /**
     * The CLIP image processor with do_resize=False: image [1, 3, H, W] in [-1, 1] → (x+1)·255/2, centre crop S×S of
     * the full image (zero padding in pixel space where the image is smaller, as Hugging Face pads), ·1/255,
     * (v − mean)/std per channel, all float32 → [1, 3, S, S].
     */
    Tensor clipPixelValues(Tensor image, int size, float[] mean, float[] std);

    // ---- diffusion helpers (small, but on the device they keep a sampling step free of host traffic) ----

    /**
     * ldm's sinusoidal timestep embedding: t [B] (fractional timesteps) → [B, dim] with half = dim/2,
     * freqs_i = exp(−ln(10000)·i/half), row = [cos(t·freqs), sin(t·freqs)] (cos first), in float32.
     */
    Tensor timestepEmbedding(Tensor t, int dim);

    /** Three-branch classifier-free guidance: uncond + sText·(cond − imgCond) + sImg·(imgCond − uncond). */
    Tensor cfgCombine(Tensor cond, Tensor imgCond, Tensor uncond, float sText, float sImg);

    /**
     * One Euler-ancestral update in k-diffusion's float32 order: d = (z − denoised)/sigma;
     * z' = z + d·(sigmaDown − sigma); then, when {@code noise} is not null, z' + noise·sigmaUp.
     */
    Tensor eulerAncestralStep(Tensor z, Tensor denoised, Tensor noise, float sigma, float sigmaDown, float sigmaUp);

    /** Frees every cached weight and all scratch memory. */
    @Override void close();
}
