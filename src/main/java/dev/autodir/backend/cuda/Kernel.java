package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One {@code extern "C" __global__} function of a {@code cuda/*.cu} file and its parameter kinds, one letter
 * per parameter: {@code p} pointer, {@code i} int, {@code l} 64-bit integer, {@code f} float. A launch is
 * checked against the signature (count and kind of every argument), and {@code KernelSourcesTest} parses the
 * .cu files and checks that every signature here matches the source — the mismatch that would otherwise
 * only show up as garbage on the GPU.
 */
record Kernel(String file, String function, String signature) {

    static final Kernel CONVERT = k("convert", "convert", "pipil");
    static final Kernel UNARY = k("unary", "unary", "pipiliff");
    static final Kernel BINARY = k("binary", "binary", "pipipilli");
    static final Kernel PER_CHANNEL = k("per_channel", "per_channel", "pipipillli");
    static final Kernel GEGLU = k("geglu", "geglu", "pipili");
    static final Kernel SIMPLE_GATE = k("simple_gate", "simple_gate", "pipill");
    static final Kernel GLOBAL_AVG_POOL = k("global_avg_pool", "global_avg_pool", "pipil");
    static final Kernel GROUP_NORM_STATS = k("group_norm", "group_norm_stats", "pipli");
    static final Kernel GROUP_NORM_APPLY = k("group_norm", "group_norm_apply", "pipipipipilliifi");
    static final Kernel GROUP_NORM_STATS_FAST = k("group_norm", "group_norm_stats_fast", "pipli");
    static final Kernel GROUP_NORM_APPLY_FAST = k("group_norm", "group_norm_apply_fast", "pipipipipliiifi");
    static final Kernel LAYER_NORM = k("layer_norm", "layer_norm", "pipipipilif");
    static final Kernel LAYER_NORM_CHANNELS = k("layer_norm_channels", "layer_norm_channels", "pipipipililf");
    static final Kernel UPSAMPLE_NEAREST2X = k("upsample_nearest", "upsample_nearest2x", "pipilii");
    static final Kernel PIXEL_SHUFFLE = k("pixel_shuffle", "pixel_shuffle", "pipiliii");
    static final Kernel WINDOW2D = k("window2d", "window2d", "pipiliiiiii");
    static final Kernel COPY_SLAB = k("copy_slab", "copy_slab", "pipilllllll");
    static final Kernel TRANSPOSE = k("transpose", "transpose", "pipiii");
    static final Kernel GATHER_ROWS = k("gather_rows", "gather_rows", "pippililll");
    static final Kernel ARGMAX_ROWS = k("argmax_rows", "argmax_rows", "pipli");
    static final Kernel NORMALIZE_ROWS = k("normalize_rows", "normalize_rows", "pipii");
    static final Kernel TIMESTEP_EMBEDDING = k("timestep_embedding", "timestep_embedding", "pipiii");
    static final Kernel CFG_COMBINE = k("cfg_combine", "cfg_combine", "pipipipilff");
    static final Kernel EULER_ANCESTRAL = k("euler_ancestral", "euler_ancestral", "pipipiipilfff");
    static final Kernel CLIP_PREPROCESS = k("clip_preprocess", "clip_preprocess", "pipiiiiiiiffffff");
    static final Kernel CONV2D_DIRECT = k("conv2d_direct", "conv2d_direct", "pipipiipiiiiiiiiiiiii");
    static final Kernel CONV2D_IGEMM = k("conv2d_igemm", "conv2d_igemm_f16", "ppppiiiiiiiiiiiii");
    static final Kernel SOFTMAX_ROWS = k("softmax_rows", "softmax_rows", "ppii");
    static final Kernel CONV2D_DEPTHWISE = k("conv2d_depthwise", "conv2d_depthwise", "pipiipipiipiiiiiiiiii");
    /** conv2d_depthwise.cu's output tile edge and largest filter edge. */
    static final int DEPTHWISE_TILE = 32, DEPTHWISE_MAX_K = 7;
    static final Kernel IM2COL = k("im2col", "im2col_f16", "ppiiiiiiiiiii");

    static final Kernel GLOBAL_AVG_POOL_FINISH = k("global_avg_pool", "global_avg_pool_finish", "ppiiii");

    /** quantize.cu: the INT8 / FP8 matrix path of {@link CudaQuantizedOps}. */
    static final Kernel QUANTIZE_ROWS = k("quantize", "quantize_rows", "pipplifi");
    static final Kernel QUANTIZE_NCHW = k("quantize", "quantize_nchw", "pippilfi");
    static final Kernel DEQUANTIZE_ROWS = k("quantize", "dequantize_rows", "pippipilif");
    static final Kernel DEQUANTIZE_NCHW = k("quantize", "dequantize_nchw", "pippipiilf");

    /**
     * The {@code <name>_fast_{f16,f32}_v{V}} kernels ({@link Features#fastKernels()}): every tensor of one dtype, V
     * elements per access (the 16-byte vector, or 1); per name, its signature and (when it differs from the name)
     * its file.
     */
    private static final Map<String, String> FAST_SIGNATURES = new LinkedHashMap<>();
    private static final Map<String, String> FAST_FILES = new LinkedHashMap<>();

    static {
        FAST_SIGNATURES.put("layer_norm_channels", "ppppiiif");
        FAST_SIGNATURES.put("global_avg_pool", "pppiii");
        FAST_SIGNATURES.put("per_channel", "pppiiii");
        FAST_SIGNATURES.put("per_channel_residual", "pppppiiii");
        FAST_FILES.put("per_channel_residual", "per_channel");
        FAST_SIGNATURES.put("binary", "pppiii");
        FAST_SIGNATURES.put("simple_gate", "ppii");
        FAST_SIGNATURES.put("simple_gate_bias", "pppiii");
        FAST_FILES.put("simple_gate_bias", "simple_gate");
    }

    /** Elements of {@code dtype} in one 16-byte access: the vector width of the fast kernels. */
    static int fastVectorWidth(Precision dtype) {
        return 16 / dtype.bytes();
    }

    /**
     * {@code <file>_fast_{f16,f32}_v{V}}: V = {@link #fastVectorWidth} when {@code vector}, else 1 (scalar accesses,
     * for extents that would misalign the rows).
     */
    static Kernel fast(String name, Precision dtype, boolean vector) {
        String sig = FAST_SIGNATURES.get(name);
        if (sig == null) throw new IllegalArgumentException("no fast kernel " + name + " (have " + FAST_SIGNATURES.keySet() + ")");
        return new Kernel(FAST_FILES.getOrDefault(name, name),
                name + "_fast_" + dtype.lower().replace("fp", "f") + "_v" + (vector ? fastVectorWidth(dtype) : 1), sig);
    }

    /** Head widths (rounded up to 16) that attention_flash.cu instantiates. */
    static final int[] FLASH_WIDTHS = {16, 32, 48, 64, 80, 96, 112, 128, 144, 160};
    static final int FLASH_MAX_WIDTH = 160;
    static final int GENERIC_MAX_WIDTH = 512;   // the SD VAE's mid-block attention is one head of 512

    private static final String ATTENTION_GENERIC_SIGNATURE = "ppppiiiiiiipif";
    private static final String ATTENTION_FLASH_SIGNATURE = "ppppiiiiiiipifi";

    private static Kernel k(String file, String function, String signature) {
        return new Kernel(file, function, signature);
    }

    /** attention_generic_{f32,f16}_nt{1..16}: NT = ceil(D / 32) output registers per row. */
    static Kernel attentionGeneric(Precision p, int headWidth) {
        if (headWidth < 1 || headWidth > GENERIC_MAX_WIDTH) {
            throw new IllegalArgumentException("attention head width " + headWidth + " outside [1, " + GENERIC_MAX_WIDTH + "]");
        }
        int nt = (headWidth + 31) / 32;
        return new Kernel("attention_generic", "attention_generic_" + p.lower().replace("fp", "f") + "_nt" + nt,
                ATTENTION_GENERIC_SIGNATURE);
    }

    /** attention_flash_d{DP}, DP = the head width rounded up to 16 (FP16 only). */
    static Kernel attentionFlash(int headWidth) {
        if (headWidth < 1 || headWidth > FLASH_MAX_WIDTH) {
            throw new IllegalArgumentException("flash attention head width " + headWidth + " outside [1, " + FLASH_MAX_WIDTH + "]");
        }
        return new Kernel("attention_flash", "attention_flash_d" + flashPaddedWidth(headWidth), ATTENTION_FLASH_SIGNATURE);
    }

    static int flashPaddedWidth(int headWidth) {
        return (headWidth + 15) / 16 * 16;
    }

    /** Every kernel the backend can launch (for the source check and for warming the module cache). */
    static List<Kernel> all() {
        List<Kernel> list = new ArrayList<>(List.of(CONVERT, UNARY, BINARY, PER_CHANNEL, GEGLU, SIMPLE_GATE,
                GLOBAL_AVG_POOL, GROUP_NORM_STATS, GROUP_NORM_APPLY, LAYER_NORM, LAYER_NORM_CHANNELS,
                UPSAMPLE_NEAREST2X, PIXEL_SHUFFLE, WINDOW2D, COPY_SLAB, TRANSPOSE, GATHER_ROWS, TIMESTEP_EMBEDDING,
                CFG_COMBINE, EULER_ANCESTRAL, CLIP_PREPROCESS, CONV2D_DIRECT, CONV2D_IGEMM, SOFTMAX_ROWS, CONV2D_DEPTHWISE,
                ARGMAX_ROWS, NORMALIZE_ROWS,
                GROUP_NORM_STATS_FAST, GROUP_NORM_APPLY_FAST, IM2COL));
        for (Precision p : Precision.values()) {
            for (int nt = 1; nt <= GENERIC_MAX_WIDTH / 32; nt++) list.add(attentionGeneric(p, nt * 32));
        }
        for (int w : FLASH_WIDTHS) list.add(attentionFlash(w));
        list.add(GLOBAL_AVG_POOL_FINISH);
        list.addAll(List.of(QUANTIZE_ROWS, QUANTIZE_NCHW, DEQUANTIZE_ROWS, DEQUANTIZE_NCHW));
        for (String file : FAST_SIGNATURES.keySet()) {
            for (Precision p : Precision.values()) {
                list.add(fast(file, p, true));
                list.add(fast(file, p, false));
            }
        }
        return Collections.unmodifiableList(list);
    }

    /** The .cu files of {@code cuda/} (one module each). */
    static List<String> files() {
        return all().stream().map(Kernel::file).distinct().toList();
    }
}
