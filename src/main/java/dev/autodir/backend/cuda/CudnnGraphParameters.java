package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;

import java.util.Arrays;

import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_FFT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION;

/**
 * What {@link CudnnGraphConvolution} writes into cuDNN's graph-API descriptors for one {@link Convolution.Key}, as
 * plain int64 arrays (the attribute type cuDNN wants for dims, strides, paddings and dilations), and which engines
 * it refuses by their numerical notes. Pure Java, so it is tested without libcudnn ({@code CudnnGraphParametersTest}).
 *
 * <p>Layouts: x [N, Cin, H, W], w [Cout, Cin/G, kh, kw], y [N, Cout, Ho, Wo], all packed NCHW (stride of the last
 * dimension 1). Groups are not an attribute of the graph API's convolution: cuDNN infers G = Cin / (w's dim 1).
 */
final class CudnnGraphParameters {
    private final long[] xDims, wDims, yDims;
    private final long[] prePaddings, postPaddings, filterStrides, dilations;

    private CudnnGraphParameters(long[] xDims, long[] wDims, long[] yDims, long[] pre, long[] post, long[] strides,
                                 long[] dilations) {
        this.xDims = xDims;
        this.wDims = wDims;
        this.yDims = yDims;
        this.prePaddings = pre;
        this.postPaddings = post;
        this.filterStrides = strides;
        this.dilations = dilations;
    }

    /** The descriptor parameters of {@code k}; throws when the key is not an FP16 convolution with a non-empty output. */
    static CudnnGraphParameters of(Convolution.Key k) {
        if (k.precision() != Precision.FP16) {
            throw new IllegalArgumentException("the cuDNN graph convolution is FP16 only, got " + k.precision() + " for " + k);
        }
        if (k.batch() < 1 || k.cin() < 1 || k.cout() < 1 || k.h() < 1 || k.w() < 1 || k.kh() < 1 || k.kw() < 1
                || k.stride() < 1 || k.pad() < 0 || k.groups() < 1) {
            throw new IllegalArgumentException("convolution " + k + " has a non-positive size, stride or groups, or a negative padding");
        }
        if (k.cin() % k.groups() != 0 || k.cout() % k.groups() != 0) {
            throw new IllegalArgumentException("groups " + k.groups() + " divide neither Cin " + k.cin() + " nor Cout " + k.cout() + " in " + k);
        }
        long ho = outputSize(k.h(), k.kh(), k.stride(), k.pad()), wo = outputSize(k.w(), k.kw(), k.stride(), k.pad());
        if (ho < 1 || wo < 1) throw new IllegalArgumentException("convolution " + k + " has an empty output " + ho + "x" + wo);
        long p = k.pad(), s = k.stride();
        return new CudnnGraphParameters(
                new long[] {k.batch(), k.cin(), k.h(), k.w()},
                new long[] {k.cout(), k.cin() / k.groups(), k.kh(), k.kw()},
                new long[] {k.batch(), k.cout(), ho, wo},
                new long[] {p, p}, new long[] {p, p}, new long[] {s, s}, new long[] {1, 1});
    }

    /** floor((size + 2·pad − kernel) / stride) + 1: the cross-correlation's output length (≤ 0 when empty). */
    static long outputSize(long size, long kernel, long stride, long pad) {
        long span = size + 2 * pad - kernel;
        return span < 0 ? 0 : span / stride + 1;
    }

    /** Packed strides of {@code dims} in order (the last dimension contiguous): NCHW for [N, C, H, W]. */
    static long[] packedStrides(long[] dims) {
        long[] strides = new long[dims.length];
        long step = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            strides[i] = step;
            step = Math.multiplyExact(step, dims[i]);
        }
        return strides;
    }

    long[] xDims() { return xDims.clone(); }

    long[] wDims() { return wDims.clone(); }

    long[] yDims() { return yDims.clone(); }

    long[] xStrides() { return packedStrides(xDims); }

    long[] wStrides() { return packedStrides(wDims); }

    long[] yStrides() { return packedStrides(yDims); }

    long[] prePaddings() { return prePaddings.clone(); }

    long[] postPaddings() { return postPaddings.clone(); }

    long[] filterStrides() { return filterStrides.clone(); }

    long[] dilations() { return dilations.clone(); }

    int ho() { return (int) yDims[2]; }

    int wo() { return (int) yDims[3]; }

    /**
     * Why an engine with these numerical notes ({@code cudnnBackendNumericalNote_t} values) is refused, or null when
     * it is acceptable. Refused, as for the legacy path's {@link Convolution#accurateEnough}: FFT (its FP16 error
     * approaches the 2e-3 budget); and, because the convolution promises float32 accumulation of FP16 data,
     * reduced-precision reduction (half accumulation) and down-converted inputs. Winograd and tensor cores are fine
     * in FP16.
     */
    static String unsuitable(int[] notes) {
        for (int n : notes) {
            if (n == CUDNN_NUMERICAL_NOTE_FFT) return "FFT";
            if (n == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) return "reduced-precision reduction";
            if (n == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) return "down-converted inputs";
        }
        return null;
    }

    @Override
    public String toString() {
        return "x " + Arrays.toString(xDims) + ", w " + Arrays.toString(wDims) + ", y " + Arrays.toString(yDims)
                + ", pre " + Arrays.toString(prePaddings) + ", post " + Arrays.toString(postPaddings)
                + ", strides " + Arrays.toString(filterStrides) + ", dilations " + Arrays.toString(dilations);
    }
}
