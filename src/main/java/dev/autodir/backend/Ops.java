package dev.autodir.backend;

import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;

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
 */
public interface Ops extends AutoCloseable {

    /** A short name: "cpu", "cuda", ... */
    String name();

    /** The precision this backend stores weights and activations in (the cpu backend: always float32). */
    default Precision precision() { return Precision.FP32; }

    // ---- data movement ------------------------------------------------------------------------

    /** A backend tensor holding a copy of host data. */
    Tensor upload(FloatTensor host);

    /**
     * A backend tensor holding an exact float32 copy of host data, whatever the backend's storage precision: for
     * values FP16 would damage, such as fractional timesteps (981.37 would become 981.5).
     */
    default Tensor uploadFloat32(FloatTensor host) { return upload(host); }

    /** A host copy (float32) of a backend tensor. */
    FloatTensor download(Tensor t);

    /**
     * The checkpoint tensor {@code key} of {@code store} in this backend's format, converted or
     * uploaded once and cached until {@link #close()}.
     */
    Tensor weight(WeightStore store, String key);

    /** Frees the transient tensors of the current stage (no-op where memory is garbage-collected). */
    default void endStage() { }

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

    /** min(max(x, lo), hi). */
    Tensor clamp(Tensor x, float lo, float hi);

    /** x [B, C, H, W] + v, v [B, C] or [C] (or anything with B·C or C elements), broadcast over H, W. */
    Tensor addPerChannel(Tensor x, Tensor v);

    /** x [B, C, H, W] · v, v [B, C] or [C] (or anything with B·C or C elements), broadcast over H, W. */
    Tensor mulPerChannel(Tensor x, Tensor v);

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

    /** Rows of {@code table} [V, C] for ids [B][N] → [B, N, C]; an id outside [0, V) throws. */
    Tensor embedding(Tensor table, int[][] ids);

    /** One row per batch entry: x [B, N, C], rows[b] in [0, N) → [B, C]. */
    Tensor gatherRows(Tensor x, int[] rows);

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
