package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.SizeTPointer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.cuda.global.cudnn.CUDNN_CONVOLUTION_FWD_ALGO_FFT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING;
import static org.bytedeco.cuda.global.cudnn.CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD;
import static org.bytedeco.cuda.global.cudnn.CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
import static org.bytedeco.cuda.global.cudnn.CUDNN_CROSS_CORRELATION;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_FLOAT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_HALF;
import static org.bytedeco.cuda.global.cudnn.CUDNN_FMA_MATH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TENSOR_NCHW;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TENSOR_OP_MATH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
import static org.bytedeco.cuda.global.cudnn.cudnnConvolutionForward;
import static org.bytedeco.cuda.global.cudnn.cudnnCreate;
import static org.bytedeco.cuda.global.cudnn.cudnnCreateConvolutionDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnCreateFilterDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnCreateTensorDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroy;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyConvolutionDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyFilterDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyTensorDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnGetConvolution2dForwardOutputDim;
import static org.bytedeco.cuda.global.cudnn.cudnnFindConvolutionForwardAlgorithm;
import static org.bytedeco.cuda.global.cudnn.cudnnGetConvolutionForwardAlgorithmMaxCount;
import static org.bytedeco.cuda.global.cudnn.cudnnGetConvolutionForwardAlgorithm_v7;
import static org.bytedeco.cuda.global.cudnn.cudnnGetConvolutionForwardWorkspaceSize;
import static org.bytedeco.cuda.global.cudnn.cudnnGetVersion;
import static org.bytedeco.cuda.global.cudnn.cudnnSetConvolution2dDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnSetConvolutionGroupCount;
import static org.bytedeco.cuda.global.cudnn.cudnnSetConvolutionMathType;
import static org.bytedeco.cuda.global.cudnn.cudnnSetFilter4dDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnSetStream;
import static org.bytedeco.cuda.global.cudnn.cudnnSetTensor4dDescriptor;

/**
 * Convolutions through cuDNN's (legacy, still supported in cuDNN 9) forward API: NCHW tensors and
 * [Cout, Cin/G, kh, kw] filters, float32 compute for both storage types. FP32 pins CUDNN_FMA_MATH so no TF32
 * sneaks in (cuDNN's default math would allow it on Ampere and later); FP16 allows tensor cores.
 *
 * <p>One plan per shape (descriptors, the algorithm cuDNN's heuristic ranks first among those that succeed
 * within the workspace limit and are accurate enough for the precision, and its workspace size), made on first use. The workspace is one buffer grown
 * to the largest plan's need; it cannot grow while a CUDA graph is captured (the capture's warm-up grows it), and a
 * buffer it outgrew is kept while captured graphs may still use it ({@link Workspace}).
 */
@SuppressWarnings("deprecation")   // cuDNN 9 marks the legacy convolution API deprecated; it is still shipped and supported
final class Convolution implements AutoCloseable {
    record Key(Precision precision, int batch, int cin, int h, int w, int cout, int kh, int kw, int stride, int pad,
               int groups) { }

    static final class Plan {
        cudnnTensorStruct x, y;
        cudnnFilterStruct w;
        cudnnConvolutionStruct conv;
        int algo;
        long workspaceBytes;
        int ho, wo;
    }

    static final long WORKSPACE_LIMIT = 1L << 30;

    private final cudnnContext handle = new cudnnContext();
    private final FloatPointer one = new FloatPointer(1f);
    private final FloatPointer zero = new FloatPointer(0f);
    private final Map<Key, Plan> plans = new LinkedHashMap<>();
    private final Workspace workspace;
    private CudnnGraphConvolution graph;
    private boolean closed;

    /** cuDNN on {@code stream}, with {@code workspace} (closed with this object). */
    Convolution(CUstream_st stream, Workspace workspace) {
        this.workspace = workspace;
        CudaCheck.dnn(cudnnCreate(handle), "cudnnCreate");
        try {
            CudaCheck.dnn(cudnnSetStream(handle, stream), "cudnnSetStream");
        } catch (RuntimeException e) {
            cudnnDestroy(handle);
            throw e;
        }
    }

    static long version() { return cudnnGetVersion(); }

    /**
     * The plan for {@code key}, with the workspace grown to fit it; {@code mayAllocate} false (during a graph
     * capture) turns a needed growth into an exception instead of a cudaMalloc inside the capture.
     */
    Plan plan(Key key, boolean mayAllocate, Runnable synchronize) {
        Plan plan = plans.get(key);
        if (plan == null) {
            plan = create(key);
            plans.put(key, plan);
        }
        workspace.ensure(plan.workspaceBytes, mayAllocate, synchronize);
        return plan;
    }

    void forward(Plan plan, Key key, long x, long w, long y) {
        long ws = plan.workspaceBytes == 0 ? 0 : workspace.address();
        int rc = cudnnConvolutionForward(handle, one, plan.x, DevicePointer.of(x), plan.w, DevicePointer.of(w),
                plan.conv, plan.algo, DevicePointer.of(ws), plan.workspaceBytes, zero, plan.y, DevicePointer.of(y));
        if (rc != 0) CudaCheck.dnn(rc, "cudnnConvolutionForward(" + key + ", algo " + plan.algo + ")");   // message only on failure
    }

    int plans() { return plans.size(); }

    /**
     * The graph-API convolutions (unverified feature convGraph), made on first use on this object's handle, so they
     * share its stream; closed before the handle.
     */
    CudnnGraphConvolution graph() {
        if (closed) throw new IllegalStateException("cuDNN convolution used after close()");
        if (graph == null) graph = new CudnnGraphConvolution(handle, workspace);
        return graph;
    }

    private Plan create(Key k) {
        Plan p = new Plan();
        int type = k.precision() == Precision.FP16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
        try {
            p.x = new cudnnTensorStruct();
            CudaCheck.dnn(cudnnCreateTensorDescriptor(p.x), "cudnnCreateTensorDescriptor");
            CudaCheck.dnn(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, type, k.batch(), k.cin(), k.h(), k.w()),
                    "cudnnSetTensor4dDescriptor(x " + k + ")");
            p.w = new cudnnFilterStruct();
            CudaCheck.dnn(cudnnCreateFilterDescriptor(p.w), "cudnnCreateFilterDescriptor");
            CudaCheck.dnn(cudnnSetFilter4dDescriptor(p.w, type, CUDNN_TENSOR_NCHW, k.cout(), k.cin() / k.groups(), k.kh(), k.kw()),
                    "cudnnSetFilter4dDescriptor(" + k + ")");
            p.conv = new cudnnConvolutionStruct();
            CudaCheck.dnn(cudnnCreateConvolutionDescriptor(p.conv), "cudnnCreateConvolutionDescriptor");
            CudaCheck.dnn(cudnnSetConvolution2dDescriptor(p.conv, k.pad(), k.pad(), k.stride(), k.stride(), 1, 1,
                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "cudnnSetConvolution2dDescriptor(" + k + ")");
            CudaCheck.dnn(cudnnSetConvolutionGroupCount(p.conv, k.groups()), "cudnnSetConvolutionGroupCount(" + k.groups() + ")");
            int math = k.precision() == Precision.FP16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
            CudaCheck.dnn(cudnnSetConvolutionMathType(p.conv, math), "cudnnSetConvolutionMathType");
            try (IntPointer n = new IntPointer(1); IntPointer c = new IntPointer(1); IntPointer h = new IntPointer(1);
                 IntPointer w = new IntPointer(1)) {
                CudaCheck.dnn(cudnnGetConvolution2dForwardOutputDim(p.conv, p.x, p.w, n, c, h, w),
                        "cudnnGetConvolution2dForwardOutputDim(" + k + ")");
                p.ho = h.get(0);
                p.wo = w.get(0);
                if (n.get(0) != k.batch() || c.get(0) != k.cout()) {
                    throw new CudaException("cuDNN output dims [" + n.get(0) + ", " + c.get(0) + ", " + p.ho + ", " + p.wo
                            + "] do not match the convolution " + k);
                }
            }
            p.y = new cudnnTensorStruct();
            CudaCheck.dnn(cudnnCreateTensorDescriptor(p.y), "cudnnCreateTensorDescriptor");
            CudaCheck.dnn(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, type, k.batch(), k.cout(), p.ho, p.wo),
                    "cudnnSetTensor4dDescriptor(y " + k + ")");
            chooseAlgorithm(p, k, math);
            return p;
        } catch (RuntimeException e) {
            destroy(p);
            throw e;
        }
    }

    /**
     * Plans take the heuristic's ranking ({@code _v7}). With {@code -Dautodir.cuda.convFind=true}, FP16 plans time
     * every algorithm once ({@code cudnnFindConvolutionForwardAlgorithm}, like PyTorch's {@code cudnn.benchmark})
     * instead; off by default because on the H200 it made the UNet step slower (13.67 ms against 10.51 ms).
     */
    private void chooseAlgorithm(Plan p, Key k, int math) {
        try (IntPointer max = new IntPointer(1); IntPointer found = new IntPointer(1)) {
            CudaCheck.dnn(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, max), "cudnnGetConvolutionForwardAlgorithmMaxCount");
            int count = Math.max(1, max.get(0));
            StringBuilder seen = new StringBuilder();
            if (k.precision() == Precision.FP16 && FIND) {
                try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(count)) {
                    if (cudnnFindConvolutionForwardAlgorithm(handle, p.x, p.w, p.conv, p.y, count, found, perf) == 0
                            && pick(p, k, math, perf, found.get(0), seen)) {
                        return;
                    }
                }
                CudaCheck.dnn(cudnnSetConvolutionMathType(p.conv, math), "cudnnSetConvolutionMathType");
            }
            try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(count)) {
                CudaCheck.dnn(cudnnGetConvolutionForwardAlgorithm_v7(handle, p.x, p.w, p.conv, p.y, count, found, perf),
                        "cudnnGetConvolutionForwardAlgorithm_v7(" + k + ")");
                if (pick(p, k, math, perf, found.get(0), seen)) return;
                throw new CudaException("cuDNN offers no usable forward algorithm for " + k + ":" + seen);
            }
        }
    }

    private static final boolean FIND = Boolean.parseBoolean(System.getProperty("autodir.cuda.convFind", "false"));

    /** The first usable entry of a ranked list (status ok, within the workspace limit, accurate enough). */
    private boolean pick(Plan p, Key k, int math, cudnnConvolutionFwdAlgoPerf_t perf, int found, StringBuilder seen) {
        for (int i = 0; i < found; i++) {
            cudnnConvolutionFwdAlgoPerf_t r = perf.getPointer(i);
            seen.append(" algo ").append(r.algo()).append(" status ").append(r.status()).append(" math ")
                    .append(r.mathType()).append(" mem ").append(r.memory()).append(';');
            if (r.status() != 0 || r.memory() > WORKSPACE_LIMIT) continue;
            if (!accurateEnough(r.algo(), k.precision())) continue;
            boolean tensorOps = r.mathType() == CUDNN_TENSOR_OP_MATH || r.mathType() == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
            if (k.precision() == Precision.FP32 && tensorOps) continue;   // FP32 means float32 FMA: no TF32
            try (SizeTPointer size = new SizeTPointer(1)) {
                CudaCheck.dnn(cudnnSetConvolutionMathType(p.conv, k.precision() == Precision.FP32 ? math : r.mathType()),
                        "cudnnSetConvolutionMathType");
                if (cudnnGetConvolutionForwardWorkspaceSize(handle, p.x, p.w, p.conv, p.y, r.algo(), size) != 0) continue;
                p.algo = r.algo();
                p.workspaceBytes = size.get(0);
                return true;
            }
        }
        return false;
    }

    /**
     * FP32 is the precision that checks against float32 references at 1e-5: only the GEMM-shaped algorithms
     * (FFT and Winograd transforms add errors near that bound). FP16 allows Winograd but not FFT, whose error in
     * half precision approaches the 2e-3 budget.
     */
    static boolean accurateEnough(int algo, Precision p) {
        if (algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT || algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING) return false;
        return p == Precision.FP16 || (algo != CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD && algo != CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED);
    }

    private static void destroy(Plan p) {
        if (p.y != null && !p.y.isNull()) cudnnDestroyTensorDescriptor(p.y);
        if (p.conv != null && !p.conv.isNull()) cudnnDestroyConvolutionDescriptor(p.conv);
        if (p.w != null && !p.w.isNull()) cudnnDestroyFilterDescriptor(p.w);
        if (p.x != null && !p.x.isNull()) cudnnDestroyTensorDescriptor(p.x);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException graphFailure = null;
        try {
            if (graph != null) graph.close();   // its plans hold the handle
        } catch (RuntimeException e) {
            graphFailure = e;
        }
        List<Plan> list = new ArrayList<>(plans.values());
        for (int i = list.size() - 1; i >= 0; i--) destroy(list.get(i));
        plans.clear();
        try {
            try {
                workspace.close();
            } catch (RuntimeException e) {
                if (graphFailure == null) graphFailure = e;
                else graphFailure.addSuppressed(e);
            }
            if (graphFailure != null) throw graphFailure;
        } finally {
            CudaCheck.dnn(cudnnDestroy(handle), "cudnnDestroy");
            one.close();
            zero.close();
        }
    }
}
