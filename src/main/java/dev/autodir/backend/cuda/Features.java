package dev.autodir.backend.cuda;

/**
 * Faster paths of the cuda backend that are built and unit-tested here but have <b>not yet run on a GPU</b>
 * (no device was lent when they were written). Each is off by default until a device run of
 * {@code benchmarks/gpu-check.sh} has checked it against the cpu backend and measured it; the check script runs
 * the cuda tests, golden-check and the benchmarks once with every feature off and once with every feature on.
 *
 * <ul>
 *   <li>{@code attentionGemm}: attention with a head wider than the flash kernel's 160 (the SD VAE's single
 *       512-wide head) as two cuBLASLt products around a row softmax, the N×N scores in float32 scratch, queries
 *       taken in chunks so the scratch stays bounded; instead of the generic register-tiled kernel.</li>
 *   <li>{@code fastKernels}: vectorised, division-free variants of the memory-bound kernels (LayerNorm over
 *       channels, GroupNorm(+SiLU), global average pooling, per-channel and binary elementwise, SimpleGate), a
 *       shared-memory-tiled depthwise convolution, and one kernel for each of NAFNet's fused forms (a 1x1
 *       convolution's bias folded into the depthwise convolution, the residual {@code a + (x + b)·s}, SimpleGate
 *       with bias) where the default composes several.</li>
 *   <li>{@code convIm2col}: FP16 k×k convolutions may run as an im2col expansion plus one cuBLASLt product; each
 *       convolution shape times that against cuDNN's choice once, on first use, and keeps the faster
 *       ({@code CudaOps.convChoices()} lists the decisions, {@code bench} prints them; the column buffer is capped
 *       by {@code -Dautodir.cuda.im2colMiB}, default 256).</li>
 *   <li>{@code convGraph}: FP16 convolutions may also run through cuDNN's graph ("backend") API
 *       ({@link CudnnGraphConvolution}: engine heuristics mode A, then the fallback list), which reaches engines the
 *       legacy API's algorithm enum does not; it is one more candidate of the same per-shape timing, compared with
 *       cuDNN's legacy result before it may win.</li>
 *   <li>{@code graphs}: {@code compile} captures each network (every stage: unet, vae-encode/decode, scm, clip-text,
 *       clip-vision, biqa) as one CUDA graph per input shapes, with its transient tensors planned into a private
 *       block that reuses the memory of dead intermediates ({@link CudaNetwork}, {@link MemoryPlan}); a step is one
 *       graph launch instead of hundreds of kernel launches from Java. Without it networks run eagerly.</li>
 * </ul>
 *
 * <p>Checked without a GPU: the kernels these paths add run on the host through the tests' kernel emulation
 * ({@code KernelEmulationTest}, {@code Im2colProductsTest}), and the cuBLASLt call sequences through a float64
 * emulation of {@link Matmul.Gemm} ({@code AttentionProductsTest}, {@code Im2colProductsTest}); the graphs feature's
 * memory plan and lifetimes on the cpu backend and fake allocators ({@code MemoryPlanTest}, {@code NetworkTraceTest},
 * {@code PlannedMemoryTest}, {@code WorkspaceTest}). Not checked: cuBLASLt and cuDNN themselves (the graph API's
 * attribute sequence has never been executed: no libcudnn on the build machine), the device's timing, graph capture,
 * NVRTC.
 *
 * <p>System properties: {@code autodir.cuda.unverified=true} turns every feature on; {@code
 * autodir.cuda.attentionGemm}, {@code autodir.cuda.fastKernels}, {@code autodir.cuda.convIm2col}, {@code
 * autodir.cuda.convGraph} and {@code autodir.cuda.graphs} set one each (and win over the umbrella).
 */
public record Features(boolean attentionGemm, boolean fastKernels, boolean convIm2col, boolean convGraph, boolean graphs) {
    public static final Features NONE = new Features(false, false, false, false, false);
    public static final Features ALL = new Features(true, true, true, true, true);

    /** The kernel and library features, networks run eagerly (graphs off). */
    public Features(boolean attentionGemm, boolean fastKernels, boolean convIm2col, boolean convGraph) {
        this(attentionGemm, fastKernels, convIm2col, convGraph, false);
    }

    public static Features fromProperties() {
        String all = System.getProperty("autodir.cuda.unverified", "false");
        return new Features(flag("autodir.cuda.attentionGemm", all), flag("autodir.cuda.fastKernels", all),
                flag("autodir.cuda.convIm2col", all), flag("autodir.cuda.convGraph", all), flag("autodir.cuda.graphs", all));
    }

    public Features withGraphs(boolean on) { return new Features(attentionGemm, fastKernels, convIm2col, convGraph, on); }

    private static boolean flag(String name, String fallback) {
        String v = System.getProperty(name, fallback).trim();
        if (v.equalsIgnoreCase("true")) return true;
        if (v.equalsIgnoreCase("false")) return false;
        throw new IllegalArgumentException("system property " + name + " must be true or false, got \"" + v + "\"");
    }

    /** "none", "all" or the names of the features that are on. */
    public String describe() {
        if (equals(NONE)) return "none";
        if (equals(ALL)) return "all (unverified)";
        StringBuilder b = new StringBuilder();
        if (attentionGemm) b.append("attentionGemm ");
        if (fastKernels) b.append("fastKernels ");
        if (convIm2col) b.append("convIm2col ");
        if (convGraph) b.append("convGraph ");
        if (graphs) b.append("graphs ");
        return b.toString().trim() + " (unverified)";
    }
}
