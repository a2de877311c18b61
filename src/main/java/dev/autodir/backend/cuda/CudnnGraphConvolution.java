package dev.autodir.backend.cuda;

import org.bytedeco.cuda.cudnn.cudnnBackendDescriptor_t;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_CONVOLUTION_COMP_TYPE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_CONVOLUTION_CONV_MODE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_CONVOLUTION_DILATIONS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_CONVOLUTION_POST_PADDINGS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINECFG_ENGINE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINEHEUR_MODE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINEHEUR_RESULTS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINE_GLOBAL_INDEX;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_ENGINE_NUMERICAL_NOTE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_EXECUTION_PLAN_HANDLE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATIONGRAPH_HANDLE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATIONGRAPH_OPS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_DATA_TYPE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_DIMENSIONS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_STRIDES;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_TENSOR_UNIQUE_ID;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_ATTR_VARIANT_PACK_WORKSPACE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_ENGINECFG_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_ENGINE_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_TENSOR_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_CROSS_CORRELATION;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_FLOAT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_HALF;
import static org.bytedeco.cuda.global.cudnn.CUDNN_HEUR_MODE_A;
import static org.bytedeco.cuda.global.cudnn.CUDNN_HEUR_MODE_FALLBACK;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NUMERICAL_NOTE_TYPE_COUNT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_BACKEND_DESCRIPTOR;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_CONVOLUTION_MODE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_DATA_TYPE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_FLOAT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_HANDLE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_HEUR_MODE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_INT64;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_NUMERICAL_NOTE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TYPE_VOID_PTR;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendCreateDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendDestroyDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendExecute;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendFinalize;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendGetAttribute;
import static org.bytedeco.cuda.global.cudnn.cudnnBackendSetAttribute;
import static org.bytedeco.cuda.global.cudnn.cudnnGetErrorString;

/**
 * FP16 forward convolutions (NCHW, float32 accumulation, cross-correlation, any stride, padding and groups, no
 * dilation) through cuDNN's graph ("backend") API, the API PyTorch uses: its engine heuristics reach engines that the
 * legacy API's algorithm enum ({@link Convolution}) does not. Unverified feature {@link Features#convGraph}: this
 * class has never run (no libcudnn where it was written); {@link ConvAutotune} compares its result with the legacy
 * path's before it may be chosen and drops it when it throws.
 *
 * <p>Per {@link Convolution.Key}, one plan, made on first use and kept until {@link #close}:
 * <ol>
 *   <li>three tensor descriptors x, w, y: data type half, int64 dims and packed NCHW strides
 *       ({@link CudnnGraphParameters}), unique ids {@link #X_ID}, {@link #W_ID}, {@link #Y_ID}, byte alignment
 *       {@link #ALIGNMENT};</li>
 *   <li>the convolution descriptor: compute type float, mode cross-correlation, 2 spatial dims, pre and post paddings,
 *       filter strides, dilations 1 (groups are implied by x's and w's channel dims);</li>
 *   <li>the forward operation: x, w, y, the convolution, alpha 1 and beta 0 as CUDNN_TYPE_FLOAT;</li>
 *   <li>the operation graph: that one operation and the handle;</li>
 *   <li>engine heuristics, mode A, and when none of its configurations gives a plan, mode FALLBACK: the ranked engine
 *       configurations are tried in order; one is skipped when its engine's numerical notes are refused
 *       ({@link CudnnGraphParameters#unsuitable}), when its execution plan does not finalize, or when the plan's
 *       workspace exceeds {@link Convolution#WORKSPACE_LIMIT}; the first plan that passes is kept.</li>
 * </ol>
 * {@link #forward} builds one variant pack per call (unique ids, the three data pointers, the workspace), executes
 * the plan on the handle's stream and destroys the pack.
 *
 * <p>Attribute types, read from how NVIDIA's cudnn-frontend (its C++ layer over this API: ConvDesc, Tensor,
 * Operation, OperationGraph, Heuristics, ExecutionPlan, VariantPack, Filters) sets and gets the same attributes, and
 * from the attribute and type enums of the JavaCPP preset (cuDNN 9.19 headers); NVIDIA's backend reference pages
 * were only seen in excerpts, so the ordering follows cudnn-frontend, not the reference: DATA_TYPE, CONVOLUTION_MODE and HEUR_MODE are C enums passed as arrays of 4-byte ints;
 * dims, strides, paddings, dilations, unique ids, alignment, spatial-dim count and workspace size are INT64;
 * descriptors (ops, x/w/y, engine configs, engines) are BACKEND_DESCRIPTOR arrays of {@code void*}; the handle is a
 * HANDLE array of one {@code cudnnHandle_t}; data pointers and the workspace are VOID_PTR arrays. JavaCPP pitfalls
 * avoided on purpose: {@code new LongPointer(16L)} and {@code new IntPointer(2)} allocate that many elements rather
 * than holding the value, and {@code new PointerPointer(p)} reinterprets {@code p} instead of holding it; the
 * helpers here always go through arrays ({@code CudnnGraphConvolutionArgumentsTest}).
 *
 * <p>Unsure, for the device run to check: (1) alpha/beta as CUDNN_TYPE_FLOAT for half data with float compute
 * (cudnn-frontend uses FLOAT unless the compute type is double); (2) whether cuDNN 9 still wants
 * EXECUTION_PLAN_HANDLE set on a plan built from an engine config (older versions required it, current
 * cudnn-frontend only sets it when deserialising; it is set here); (3) the grouped case, where groups are inferred
 * from x's C over w's C (nothing else to set); (4) whether descriptors referenced by a finalized plan may be
 * destroyed before it (they are all kept until {@link #close}, destroyed plan-first); (5) that
 * {@code cudnnBackendExecute} is capturable into a CUDA graph with a variant pack destroyed right after the call;
 * (6) engines flagged for runtime compilation (NVRTC) may be ranked first and finalize slowly or fail on the
 * device's driver; a failure only moves on to the next configuration; (7) a null workspace pointer when the plan
 * needs 0 bytes.
 */
final class CudnnGraphConvolution implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(CudnnGraphConvolution.class.getName());

    /** Unique ids of the operation's tensors (any distinct int64 values; the variant pack repeats them). */
    static final long X_ID = 1, W_ID = 2, Y_ID = 3;
    /** Byte alignment promised for x, w and y; {@link #forward} refuses addresses that break it. */
    static final long ALIGNMENT = 16;

    /** One convolution's descriptors, in creation order, and the execution plan among them. */
    static final class Plan {
        final Convolution.Key key;
        final int ho, wo;
        private final List<cudnnBackendDescriptor_t> descriptors = new ArrayList<>();
        private cudnnBackendDescriptor_t executionPlan;
        long workspaceBytes;
        /** The heuristics mode, rank and engine that gave the plan, e.g. "mode A #0 engine 12". */
        String engine = "";

        Plan(Convolution.Key key, int ho, int wo) {
            this.key = key;
            this.ho = ho;
            this.wo = wo;
        }
    }

    private final cudnnContext handle;   // owned by Convolution, which closes this object before the handle
    private final Map<Convolution.Key, Plan> plans = new LinkedHashMap<>();
    private final LongPointer ids = int64s(X_ID, W_ID, Y_ID);
    private final LongPointer dataPointers = int64s(0, 0, 0);
    private final LongPointer workspacePointer = int64s(0);
    private final Workspace workspace;   // shared with (and owned by) Convolution
    private boolean closed;

    /** Plans on {@code handle} (set to the backend's stream by its owner) with the owner's {@code workspace}; both must outlive this object. */
    CudnnGraphConvolution(cudnnContext handle, Workspace workspace) {
        this.handle = handle;
        this.workspace = workspace;
    }

    /**
     * The plan for {@code key}, with the workspace grown to fit it; {@code mayAllocate} false (during a graph
     * capture) turns a needed growth into an exception instead of a cudaMalloc inside the capture.
     */
    Plan plan(Convolution.Key key, boolean mayAllocate, Runnable synchronize) {
        if (closed) throw new IllegalStateException("cuDNN graph convolution used after close()");
        Plan plan = plans.get(key);
        if (plan == null) {
            plan = create(key);
            plans.put(key, plan);
        }
        workspace.ensure(plan.workspaceBytes, mayAllocate, synchronize);
        return plan;
    }

    int plans() { return plans.size(); }

    /** y = conv(x, w) for {@code plan} on the handle's stream; x, w, y are device addresses aligned to {@link #ALIGNMENT}. */
    void forward(Plan plan, long x, long w, long y) {
        if (((x | w | y) & (ALIGNMENT - 1)) != 0) {
            throw new IllegalArgumentException("cuDNN graph convolution " + plan.key + ": x 0x" + Long.toHexString(x) + ", w 0x"
                    + Long.toHexString(w) + " and y 0x" + Long.toHexString(y) + " must be " + ALIGNMENT + "-byte aligned");
        }
        dataPointers.put(0, x).put(1, w).put(2, y);
        workspacePointer.put(0, plan.workspaceBytes == 0 ? 0 : workspace.address());
        cudnnBackendDescriptor_t pack = new cudnnBackendDescriptor_t();
        check(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, pack), "cudnnBackendCreateDescriptor(variant pack)", plan);
        RuntimeException failure = null;
        try {
            check(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, ids),
                    "cudnnBackendSetAttribute(VARIANT_PACK_UNIQUE_IDS)", plan);
            check(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, dataPointers),
                    "cudnnBackendSetAttribute(VARIANT_PACK_DATA_POINTERS)", plan);
            check(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, workspacePointer),
                    "cudnnBackendSetAttribute(VARIANT_PACK_WORKSPACE)", plan);
            check(cudnnBackendFinalize(pack), "cudnnBackendFinalize(variant pack)", plan);
            check(cudnnBackendExecute(handle, plan.executionPlan, pack), "cudnnBackendExecute", plan);
        } catch (RuntimeException e) {
            failure = e;
            throw e;
        } finally {
            int rc = cudnnBackendDestroyDescriptor(pack);
            if (rc != 0) {
                CudaException e = new CudaException("cudnnBackendDestroyDescriptor(variant pack, " + plan.key + ")", rc, statusName(rc));
                if (failure != null) failure.addSuppressed(e);
                else throw e;
            }
        }
    }

    /** Checks a per-call status; the message (call, key and engine) is built only when the call failed. */
    private static void check(int rc, String call, Plan plan) {
        if (rc != 0) CudaCheck.dnn(rc, call + " for " + plan.key + " (" + plan.engine + ")");
    }

    // ---- planning ---------------------------------------------------------------------------------

    private Plan create(Convolution.Key key) {
        CudnnGraphParameters g = CudnnGraphParameters.of(key);
        Plan p = new Plan(key, g.ho(), g.wo());
        Builder b = new Builder(key, p.descriptors);   // what create() makes itself; choose() keeps its own list
        try {
            cudnnBackendDescriptor_t x = b.tensor("x", X_ID, g.xDims(), g.xStrides());
            cudnnBackendDescriptor_t w = b.tensor("w", W_ID, g.wDims(), g.wStrides());
            cudnnBackendDescriptor_t y = b.tensor("y", Y_ID, g.yDims(), g.yStrides());

            cudnnBackendDescriptor_t conv = b.create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, "convolution");
            b.enumValue(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, CUDNN_DATA_FLOAT, "CONVOLUTION_COMP_TYPE");
            b.enumValue(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, CUDNN_CROSS_CORRELATION, "CONVOLUTION_CONV_MODE");
            b.int64(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, new long[] {2}, "CONVOLUTION_SPATIAL_DIMS");
            b.int64(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, g.prePaddings(), "CONVOLUTION_PRE_PADDINGS");
            b.int64(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, g.postPaddings(), "CONVOLUTION_POST_PADDINGS");
            b.int64(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, g.dilations(), "CONVOLUTION_DILATIONS");
            b.int64(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, g.filterStrides(), "CONVOLUTION_FILTER_STRIDES");
            b.finalize(conv, "convolution");

            cudnnBackendDescriptor_t op = b.create(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, "forward operation");
            b.descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x, "OPERATION_CONVOLUTION_FORWARD_X");
            b.descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w, "OPERATION_CONVOLUTION_FORWARD_W");
            b.descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, y, "OPERATION_CONVOLUTION_FORWARD_Y");
            b.descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv, "OPERATION_CONVOLUTION_FORWARD_CONV_DESC");
            b.float32(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, 1f, "OPERATION_CONVOLUTION_FORWARD_ALPHA");
            b.float32(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, 0f, "OPERATION_CONVOLUTION_FORWARD_BETA");
            b.finalize(op, "forward operation");

            cudnnBackendDescriptor_t graph = b.create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "operation graph");
            b.descriptor(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, op, "OPERATIONGRAPH_OPS");
            b.handle(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, handle, "OPERATIONGRAPH_HANDLE");
            b.finalize(graph, "operation graph");

            StringBuilder skipped = new StringBuilder();
            if (choose(p, graph, CUDNN_HEUR_MODE_A, "A", skipped) || choose(p, graph, CUDNN_HEUR_MODE_FALLBACK, "FALLBACK", skipped)) {
                LOG.log(System.Logger.Level.INFO, () -> "cuDNN graph plan for " + ConvAutotune.describe(key) + ": " + p.engine
                        + ", workspace " + p.workspaceBytes + " bytes" + (skipped.length() == 0 ? "" : "; skipped:" + skipped));
                return p;
            }
            throw new CudaException("cuDNN graph API: no engine configuration of heuristics mode A or FALLBACK gives an execution plan for "
                    + key + " (" + g + "):" + skipped);
        } catch (RuntimeException e) {
            throw destroyAll(p.descriptors, e);
        }
    }

    /**
     * Asks the heuristics in {@code mode} for ranked engine configurations and keeps the first that gives a usable
     * plan (heuristics, configuration and plan join {@code p}'s descriptors; everything else made here is destroyed).
     * False, with the reasons appended to {@code skipped}, when none does.
     */
    private boolean choose(Plan p, cudnnBackendDescriptor_t graph, int mode, String modeName, StringBuilder skipped) {
        List<cudnnBackendDescriptor_t> made = new ArrayList<>();
        Builder local = new Builder(p.key, made);
        RuntimeException failure = null;
        try {
            cudnnBackendDescriptor_t heur = local.create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "engine heuristics " + modeName);
            local.descriptor(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph, "ENGINEHEUR_OPERATION_GRAPH");
            local.enumValue(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, mode, "ENGINEHEUR_MODE");
            int rc = cudnnBackendFinalize(heur);
            if (rc != 0) {
                skipped.append(" mode ").append(modeName).append(": heuristics do not finalize (").append(statusName(rc)).append(");");
                return false;
            }
            long offered;
            try (LongPointer count = int64s(0)) {
                rc = cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, count, (Pointer) null);
                if (rc != 0) {
                    skipped.append(" mode ").append(modeName).append(": result count unavailable (").append(statusName(rc)).append(");");
                    return false;
                }
                offered = count.get(0);
            }
            if (offered <= 0) {
                skipped.append(" mode ").append(modeName).append(": no configurations;");
                return false;
            }
            List<cudnnBackendDescriptor_t> configs = new ArrayList<>();
            for (long i = 0; i < offered; i++) configs.add(local.create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine configuration"));
            long returned;
            try (PointerPointer<cudnnBackendDescriptor_t> array = descriptors(configs); LongPointer count = int64s(0)) {
                local.check(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, offered, count, array),
                        "cudnnBackendGetAttribute(ENGINEHEUR_RESULTS, " + offered + " of mode " + modeName + ")");
                returned = Math.min(count.get(0), offered);
            }
            for (int i = 0; i < returned; i++) {
                cudnnBackendDescriptor_t cfg = configs.get(i);
                String where = "mode " + modeName + " #" + i;
                EngineInfo info = engineInfo(cfg);
                if (info.error() != null) {
                    skipped.append(' ').append(where).append(": ").append(info.error()).append(';');
                    continue;
                }
                where += " engine " + info.index() + info.notesText();
                String refused = CudnnGraphParameters.unsuitable(info.notes());
                if (refused != null) {
                    skipped.append(' ').append(where).append(": ").append(refused).append(';');
                    continue;
                }
                cudnnBackendDescriptor_t plan = local.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, "execution plan");
                local.handle(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, handle, "EXECUTION_PLAN_HANDLE");
                local.descriptor(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg, "EXECUTION_PLAN_ENGINE_CONFIG");
                rc = cudnnBackendFinalize(plan);
                long bytes = -1;
                if (rc == 0) {
                    try (LongPointer size = int64s(0); LongPointer count = int64s(0)) {
                        local.check(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, count, size),
                                "cudnnBackendGetAttribute(EXECUTION_PLAN_WORKSPACE_SIZE, " + where + ")");
                        bytes = size.get(0);
                    }
                }
                if (rc != 0 || bytes < 0 || bytes > Convolution.WORKSPACE_LIMIT) {
                    skipped.append(' ').append(where).append(": ")
                            .append(rc != 0 ? "plan does not finalize (" + statusName(rc) + ")" : "workspace " + bytes + " bytes").append(';');
                    local.destroy(plan);
                    continue;
                }
                // keep heuristics, this configuration and its plan; the other configurations go
                for (cudnnBackendDescriptor_t c : configs) if (c != cfg) local.destroy(c);
                for (cudnnBackendDescriptor_t d : List.of(heur, cfg, plan)) {
                    made.remove(d);
                    p.descriptors.add(d);
                }
                p.executionPlan = plan;
                p.workspaceBytes = bytes;
                p.engine = where;
                return true;
            }
            return false;
        } catch (RuntimeException e) {
            failure = e;
            throw e;
        } finally {
            RuntimeException first = destroyAll(made, failure);
            if (failure == null && first != null) throw first;
        }
    }

    /** An engine configuration's engine: its global index and numerical notes, or why they could not be read. */
    record EngineInfo(long index, int[] notes, String error) {
        String notesText() {
            if (notes.length == 0) return "";
            StringBuilder s = new StringBuilder(" notes");
            for (int n : notes) s.append(' ').append(n);
            return s.toString();
        }
    }

    private EngineInfo engineInfo(cudnnBackendDescriptor_t cfg) {
        cudnnBackendDescriptor_t engine = new cudnnBackendDescriptor_t();
        int rc = cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, engine);
        if (rc != 0) return new EngineInfo(-1, new int[0], "engine descriptor not created (" + statusName(rc) + ")");
        try {
            try (PointerPointer<cudnnBackendDescriptor_t> one = descriptors(List.of(engine)); LongPointer count = int64s(0)) {
                rc = cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, count, one);
                if (rc != 0) return new EngineInfo(-1, new int[0], "ENGINECFG_ENGINE unreadable (" + statusName(rc) + ")");
            }
            long index;
            try (LongPointer value = int64s(-1); LongPointer count = int64s(0)) {
                rc = cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, count, value);
                if (rc != 0) return new EngineInfo(-1, new int[0], "ENGINE_GLOBAL_INDEX unreadable (" + statusName(rc) + ")");
                index = value.get(0);
            }
            int[] notes = new int[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
            try (IntPointer values = new IntPointer(notes); LongPointer count = int64s(0)) {
                rc = cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                        CUDNN_NUMERICAL_NOTE_TYPE_COUNT, count, values);
                if (rc != 0) return new EngineInfo(index, new int[0], "engine " + index + ": ENGINE_NUMERICAL_NOTE unreadable (" + statusName(rc) + ")");
                int n = (int) Math.max(0, Math.min(count.get(0), CUDNN_NUMERICAL_NOTE_TYPE_COUNT));
                values.get(notes, 0, n);
                return new EngineInfo(index, Arrays.copyOf(notes, n), null);
            }
        } finally {
            rc = cudnnBackendDestroyDescriptor(engine);   // a read-only copy made for the query
            if (rc != 0) LOG.log(System.Logger.Level.WARNING, "cudnnBackendDestroyDescriptor(engine) failed: " + statusName(rc));
        }
    }

    /** Creates and sets descriptors for one key, recording each created descriptor in {@code owned}. */
    private static final class Builder {
        private final Convolution.Key key;
        private final List<cudnnBackendDescriptor_t> owned;

        Builder(Convolution.Key key, List<cudnnBackendDescriptor_t> owned) {
            this.key = key;
            this.owned = owned;
        }

        void check(int rc, String call) {
            if (rc != 0) CudaCheck.dnn(rc, call + " for " + key);
        }

        cudnnBackendDescriptor_t create(int type, String what) {
            cudnnBackendDescriptor_t d = new cudnnBackendDescriptor_t();
            check(cudnnBackendCreateDescriptor(type, d), "cudnnBackendCreateDescriptor(" + what + ")");
            owned.add(d);
            return d;
        }

        void destroy(cudnnBackendDescriptor_t d) {
            owned.remove(d);
            check(cudnnBackendDestroyDescriptor(d), "cudnnBackendDestroyDescriptor");
        }

        void finalize(cudnnBackendDescriptor_t d, String what) {
            check(cudnnBackendFinalize(d), "cudnnBackendFinalize(" + what + ")");
        }

        cudnnBackendDescriptor_t tensor(String name, long id, long[] dims, long[] strides) {
            cudnnBackendDescriptor_t t = create(CUDNN_BACKEND_TENSOR_DESCRIPTOR, "tensor " + name);
            enumValue(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, CUDNN_DATA_HALF, "TENSOR_DATA_TYPE of " + name);
            int64(t, CUDNN_ATTR_TENSOR_DIMENSIONS, dims, "TENSOR_DIMENSIONS of " + name + " " + Arrays.toString(dims));
            int64(t, CUDNN_ATTR_TENSOR_STRIDES, strides, "TENSOR_STRIDES of " + name + " " + Arrays.toString(strides));
            int64(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, new long[] {id}, "TENSOR_UNIQUE_ID of " + name);
            int64(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, new long[] {ALIGNMENT}, "TENSOR_BYTE_ALIGNMENT of " + name);
            finalize(t, "tensor " + name);
            return t;
        }

        void int64(cudnnBackendDescriptor_t d, int attribute, long[] values, String what) {
            try (LongPointer v = int64s(values)) {
                check(cudnnBackendSetAttribute(d, attribute, CUDNN_TYPE_INT64, values.length, v), "cudnnBackendSetAttribute(" + what + ")");
            }
        }

        void enumValue(cudnnBackendDescriptor_t d, int attribute, int type, int value, String what) {
            try (IntPointer v = int32s(value)) {
                check(cudnnBackendSetAttribute(d, attribute, type, 1, v), "cudnnBackendSetAttribute(" + what + ")");
            }
        }

        void float32(cudnnBackendDescriptor_t d, int attribute, float value, String what) {
            try (FloatPointer v = new FloatPointer(new float[] {value})) {
                check(cudnnBackendSetAttribute(d, attribute, CUDNN_TYPE_FLOAT, 1, v), "cudnnBackendSetAttribute(" + what + ")");
            }
        }

        void descriptor(cudnnBackendDescriptor_t d, int attribute, cudnnBackendDescriptor_t value, String what) {
            try (PointerPointer<cudnnBackendDescriptor_t> v = descriptors(List.of(value))) {
                check(cudnnBackendSetAttribute(d, attribute, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, v), "cudnnBackendSetAttribute(" + what + ")");
            }
        }

        void handle(cudnnBackendDescriptor_t d, int attribute, cudnnContext value, String what) {
            try (PointerPointer<Pointer> v = addresses(value)) {
                check(cudnnBackendSetAttribute(d, attribute, CUDNN_TYPE_HANDLE, 1, v), "cudnnBackendSetAttribute(" + what + ")");
            }
        }
    }

    // ---- native argument arrays (package-private for CudnnGraphConvolutionArgumentsTest) -----------

    /** A native int64 array holding exactly {@code values} (never the size constructor). */
    static LongPointer int64s(long... values) {
        if (values.length == 0) throw new IllegalArgumentException("an attribute array needs at least one value");
        return new LongPointer(values);
    }

    /** A native int32 array holding exactly {@code values} (the C enums' storage). */
    static IntPointer int32s(int... values) {
        if (values.length == 0) throw new IllegalArgumentException("an attribute array needs at least one value");
        return new IntPointer(values);
    }

    /** A native array of {@code void*} holding the addresses of {@code pointers}, in order. */
    static PointerPointer<Pointer> addresses(Pointer... pointers) {
        PointerPointer<Pointer> array = new PointerPointer<>(Math.max(1, pointers.length));
        for (int i = 0; i < pointers.length; i++) array.put(i, pointers[i]);
        return array;
    }

    private static PointerPointer<cudnnBackendDescriptor_t> descriptors(List<cudnnBackendDescriptor_t> ds) {
        PointerPointer<cudnnBackendDescriptor_t> array = new PointerPointer<>(Math.max(1, ds.size()));
        for (int i = 0; i < ds.size(); i++) array.put(i, ds.get(i));
        return array;
    }

    private static String statusName(int rc) {
        try {
            BytePointer s = cudnnGetErrorString(rc);
            return s == null || s.isNull() ? "status " + rc : s.getString() + " (" + rc + ")";
        } catch (RuntimeException e) {
            return "status " + rc;
        }
    }

    /** Destroys {@code ds} last-made first; the first failure (or {@code first}, with later ones suppressed) is returned. */
    private static RuntimeException destroyAll(List<cudnnBackendDescriptor_t> ds, RuntimeException first) {
        for (int i = ds.size() - 1; i >= 0; i--) {
            int rc = cudnnBackendDestroyDescriptor(ds.get(i));
            if (rc != 0) {
                CudaException e = new CudaException("cudnnBackendDestroyDescriptor", rc, statusName(rc));
                if (first == null) first = e;
                else first.addSuppressed(e);
            }
        }
        ds.clear();
        return first;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException first = null;
        List<Plan> list = new ArrayList<>(plans.values());
        for (int i = list.size() - 1; i >= 0; i--) first = destroyAll(list.get(i).descriptors, first);
        plans.clear();
        workspacePointer.close();   // the workspace itself belongs to Convolution
        dataPointers.close();
        ids.close();
        if (first != null) throw first;
    }
}
