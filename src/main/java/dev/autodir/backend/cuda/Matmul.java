package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_EPILOGUE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSA;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSB;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.cublasLtCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtGetVersion;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmul;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoGetHeuristic;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutSetAttribute;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32I;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32I;
import static org.bytedeco.cuda.global.cudart.CUDA_R_8F_E4M3;
import static org.bytedeco.cuda.global.cudart.CUDA_R_8I;

/**
 * Matrix products through cuBLASLt: {@code y [M, N] = x [M, K] · wᵀ + bias}, every matrix row-major, in the
 * backend's precision with float32 accumulation and float32 scaling (CUBLAS_COMPUTE_32F: plain float32 for
 * FP32 storage — no TF32 — and tensor-core FP16 inputs with float32 accumulation for FP16 storage).
 *
 * <p>Row-major data is cuBLAS's column-major transpose, so the call is the "TN" product
 * {@code Dᶜ [N, M] = op(Wᶜ)ᵀ · Xᶜ} with Wᶜ = the weight seen column-major [K, N] (transposed, TRANSA = T),
 * Xᶜ = x seen column-major [K, M], and the bias epilogue adding {@code bias[n]} to row n of Dᶜ — one bias
 * per output feature. One plan (descriptors + the heuristic's algorithm) per shape, made on first use.
 */
final class Matmul implements AutoCloseable {
    private record Key(Precision precision, int m, int n, int k, boolean bias, boolean pointwise) { }

    private static final class Plan {
        cublasLtMatmulDescOpaque_t desc;
        cublasLtMatrixLayoutOpaque_t a, b, c;
        cublasLtMatmulHeuristicResult_t heuristic;
    }

    private final cublasLtContext handle = new cublasLtContext();
    private final DeviceMemory workspace;
    private final FloatPointer one = new FloatPointer(1f);
    private final FloatPointer zero = new FloatPointer(0f);
    private final LongPointer biasAddress = new LongPointer(1);
    private final Map<Key, Plan> plans = new LinkedHashMap<>();
    private final Map<Gemm, Plan> gemmPlans = new LinkedHashMap<>();
    private final FloatPointer alpha = new FloatPointer(1f);
    private final Map<QuantGemm, Plan> quantPlans = new LinkedHashMap<>();
    private final IntPointer oneInt = new IntPointer(new int[] {1}), zeroInt = new IntPointer(new int[] {0});   // INT8: int32 scaling
    private boolean closed;

    /**
     * A general (strided-batched) product in cuBLAS's column-major terms: for every batch index i,
     * {@code D_i [m, n] (ld ldd) = alpha · op(A_i) · op(B_i)} with op(A) [m, k] and op(B) [k, n]. A is stored
     * [k, m] (ld lda) when transA, else [m, k]; B is stored [n, k] (ld ldb) when transB, else [k, n]. Inputs are
     * in {@code in}, D in {@code out} (FP16 inputs may write float32); float32 accumulation and scaling always.
     * Strides and leading dimensions count elements. A row-major matrix R [r, c] with row stride s is the
     * column-major [c, r] with ld s.
     */
    record Gemm(Precision in, Precision out, boolean transA, boolean transB, int m, int n, int k, long lda, long ldb,
                long ldd, int batch, long strideA, long strideB, long strideD) {
        Gemm {
            if (in == null || out == null) throw new IllegalArgumentException("gemm: null precision");
            if (m < 1 || n < 1 || k < 1 || batch < 1) {
                throw new IllegalArgumentException("gemm: m " + m + ", n " + n + ", k " + k + ", batch " + batch + " must be positive");
            }
            if (lda < (transA ? k : m) || ldb < (transB ? n : k) || ldd < m) {
                throw new IllegalArgumentException("gemm: leading dimensions " + lda + "/" + ldb + "/" + ldd
                        + " too small for m " + m + ", n " + n + ", k " + k + " (transA " + transA + ", transB " + transB + ")");
            }
            if (in == Precision.FP32 && out == Precision.FP16) throw new IllegalArgumentException("gemm: float32 inputs with FP16 output");
        }
    }

    /** Where a {@link Gemm} goes: {@link #gemm} on the device, a float64 emulation in the tests. */
    interface GemmSink {
        void gemm(Gemm g, float alpha, long a, long b, long d);
    }

    Matmul(long workspaceBytes) {
        CudaCheck.blas(cublasLtCreate(handle), "cublasLtCreate");
        DeviceMemory ws;
        try {
            ws = DeviceMemory.allocate(workspaceBytes, "cuBLASLt workspace");
        } catch (RuntimeException e) {
            cublasLtDestroy(handle);
            throw e;
        }
        this.workspace = ws;
    }

    static long version() { return cublasLtGetVersion(); }

    /** y = x · wᵀ (+ bias): x [m, k], w [n, k], bias [n] or 0, y [m, n]; addresses of device memory. */
    void linear(CUstream_st stream, Precision p, long x, long w, long bias, long y, int m, int n, int k) {
        Plan plan = plan(new Key(p, m, n, k, bias != 0, false));
        if (bias != 0) {
            biasAddress.put(0, bias);
            CudaCheck.blas(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, biasAddress, 8),
                    "cublasLtMatmulDescSetAttribute(BIAS_POINTER)");
        }
        int rc = cublasLtMatmul(handle, plan.desc, one, DevicePointer.of(w), plan.a, DevicePointer.of(x), plan.b,
                zero, DevicePointer.of(y), plan.c, DevicePointer.of(y), plan.c, plan.heuristic.algo(),
                DevicePointer.of(workspace.address()), workspace.bytes(), stream);
        if (rc != 0) CudaCheck.blas(rc, "cublasLtMatmul(" + p + ", M=" + m + ", N=" + n + ", K=" + k + (bias != 0 ? ", bias" : "") + ")");
    }

    /**
     * A 1x1 convolution of one NCHW image as a product: y [Cout, P] = w [Cout, Cin] · x [Cin, P] (row-major), i.e.
     * column-major D [P, Cout] = X [P, Cin] · W [Cin, Cout] with no transposes; the caller adds the bias.
     */
    void pointwise(CUstream_st stream, Precision p, long x, long w, long y, int pixels, int cout, int cin) {
        Plan plan = plan(new Key(p, pixels, cout, cin, false, true));
        int rc = cublasLtMatmul(handle, plan.desc, one, DevicePointer.of(x), plan.a, DevicePointer.of(w), plan.b,
                zero, DevicePointer.of(y), plan.c, DevicePointer.of(y), plan.c, plan.heuristic.algo(),
                DevicePointer.of(workspace.address()), workspace.bytes(), stream);
        if (rc != 0) CudaCheck.blas(rc, "cublasLtMatmul(pointwise " + p + ", P=" + pixels + ", Cout=" + cout + ", Cin=" + cin + ")");
    }

    /** Runs {@code g} on device addresses a, b, d (see {@link Gemm}); D is overwritten (beta 0). */
    void gemm(CUstream_st stream, Gemm g, float scale, long a, long b, long d) {
        Plan plan = gemmPlan(g);
        alpha.put(0, scale);   // host pointer mode: read when the call is enqueued (and so baked into a captured graph)
        int rc = cublasLtMatmul(handle, plan.desc, alpha, DevicePointer.of(a), plan.a, DevicePointer.of(b), plan.b,
                zero, DevicePointer.of(d), plan.c, DevicePointer.of(d), plan.c, plan.heuristic.algo(),
                DevicePointer.of(workspace.address()), workspace.bytes(), stream);
        if (rc != 0) CudaCheck.blas(rc, "cublasLtMatmul(" + g + ")");
    }

    /**
     * Runs the INT8 / FP8 product {@code g} (see {@link QuantGemm}) on device addresses a, b, d: D is overwritten with
     * the raw accumulators (int32 for INT8 with int32 scaling 1 and 0, float32 for FP8 with float32 scaling).
     */
    void quantGemm(CUstream_st stream, QuantGemm g, long a, long b, long d) {
        QuantGemm.checkAddresses(a, b, d);
        Plan plan = quantPlan(g);
        boolean int8 = g.format() == dev.autodir.quant.QuantFormat.INT8;
        int rc = cublasLtMatmul(handle, plan.desc, int8 ? oneInt : one, DevicePointer.of(a), plan.a, DevicePointer.of(b), plan.b,
                int8 ? zeroInt : zero, DevicePointer.of(d), plan.c, DevicePointer.of(d), plan.c, plan.heuristic.algo(),
                DevicePointer.of(workspace.address()), workspace.bytes(), stream);
        if (rc != 0) CudaCheck.blas(rc, "cublasLtMatmul(" + g + ")");
    }

    private Plan quantPlan(QuantGemm g) {
        Plan plan = quantPlans.get(g);
        if (plan != null) return plan;
        boolean int8 = g.format() == dev.autodir.quant.QuantFormat.INT8;
        // the TN form: the only one cuBLASLt's FP8 and regular-order IMMA kernels take
        plan = describedPlan(g.toString(), int8 ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F, int8 ? CUDA_R_32I : CUDA_R_32F,
                int8 ? CUDA_R_8I : CUDA_R_8F_E4M3, int8 ? CUDA_R_32I : CUDA_R_32F, true, false, g.m(), g.n(), g.k(), g.lda(), g.ldb(),
                g.ldd(), 1, 0, 0, 0);
        quantPlans.put(g, plan);
        return plan;
    }

    int plans() { return plans.size() + gemmPlans.size() + quantPlans.size(); }

    private Plan gemmPlan(Gemm g) {
        Plan plan = gemmPlans.get(g);
        if (plan != null) return plan;
        plan = describedPlan(g.toString(), CUBLAS_COMPUTE_32F, CUDA_R_32F, g.in() == Precision.FP16 ? CUDA_R_16F : CUDA_R_32F,
                g.out() == Precision.FP16 ? CUDA_R_16F : CUDA_R_32F, g.transA(), g.transB(), g.m(), g.n(), g.k(), g.lda(), g.ldb(), g.ldd(),
                g.batch(), g.strideA(), g.strideB(), g.strideD());
        gemmPlans.put(g, plan);
        return plan;
    }

    /** Descriptors, layouts (column-major, op(A) [m, k], op(B) [k, n], D [m, n]) and the heuristic's algorithm of one product. */
    private Plan describedPlan(String shape, int compute, int scaleType, int inType, int outType, boolean transA, boolean transB, int m,
                               int n, int k, long lda, long ldb, long ldd, int batch, long strideA, long strideB, long strideD) {
        Plan plan = new Plan();
        try (PointerPointer<?> out = new PointerPointer<>(1)) {
            CudaCheck.blas(cublasLtMatmulDescCreate(out, compute, scaleType), "cublasLtMatmulDescCreate(" + shape + ")");
            plan.desc = new cublasLtMatmulDescOpaque_t(out.get(0));
            transposes(plan.desc, transA, transB);
            plan.a = layout(out, inType, transA ? k : m, transA ? m : k, lda, batch, strideA, "A", shape);
            plan.b = layout(out, inType, transB ? n : k, transB ? k : n, ldb, batch, strideB, "B", shape);
            plan.c = layout(out, outType, m, n, ldd, batch, strideD, "D", shape);
            plan.heuristic = heuristic(out, plan, shape);
        } catch (RuntimeException e) {
            destroy(plan);
            throw e;
        }
        return plan;
    }

    private static void transposes(cublasLtMatmulDescOpaque_t desc, boolean transA, boolean transB) {
        try (IntPointer v = new IntPointer(1)) {
            v.put(0, transA ? CUBLAS_OP_T : CUBLAS_OP_N);
            CudaCheck.blas(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, v, 4), "cublasLtMatmulDescSetAttribute(TRANSA)");
            v.put(0, transB ? CUBLAS_OP_T : CUBLAS_OP_N);
            CudaCheck.blas(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, v, 4), "cublasLtMatmulDescSetAttribute(TRANSB)");
        }
    }

    private static cublasLtMatrixLayoutOpaque_t layout(PointerPointer<?> out, int type, int rows, int cols, long ld, int batch,
                                                       long stride, String which, String shape) {
        CudaCheck.blas(cublasLtMatrixLayoutCreate(out, type, rows, cols, ld), "cublasLtMatrixLayoutCreate(" + which + ", " + shape + ")");
        cublasLtMatrixLayoutOpaque_t l = new cublasLtMatrixLayoutOpaque_t(out.get(0));
        if (batch > 1) {
            try (IntPointer count = new IntPointer(1); LongPointer offset = new LongPointer(1)) {
                count.put(0, batch);
                offset.put(0, stride);
                CudaCheck.blas(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, count, 4),
                        "cublasLtMatrixLayoutSetAttribute(" + which + " BATCH_COUNT)");
                CudaCheck.blas(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, offset, 8),
                        "cublasLtMatrixLayoutSetAttribute(" + which + " STRIDED_BATCH_OFFSET)");
            } catch (RuntimeException e) {
                cublasLtMatrixLayoutDestroy(l);
                throw e;
            }
        }
        return l;
    }

    /** cuBLASLt's first-ranked algorithm for the plan's descriptors within the workspace. */
    private cublasLtMatmulHeuristicResult_t heuristic(PointerPointer<?> out, Plan plan, String shape) {
        CudaCheck.blas(cublasLtMatmulPreferenceCreate(out), "cublasLtMatmulPreferenceCreate");
        cublasLtMatmulPreferenceOpaque_t pref = new cublasLtMatmulPreferenceOpaque_t(out.get(0));
        cublasLtMatmulHeuristicResult_t result = new cublasLtMatmulHeuristicResult_t(1);
        try (LongPointer ws = new LongPointer(1); IntPointer found = new IntPointer(1)) {
            ws.put(0, workspace.bytes());
            CudaCheck.blas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws, 8),
                    "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
            CudaCheck.blas(cublasLtMatmulAlgoGetHeuristic(handle, plan.desc, plan.a, plan.b, plan.c, plan.c, pref, 1,
                    result, found), "cublasLtMatmulAlgoGetHeuristic(" + shape + ")");
            if (found.get(0) < 1) throw new CudaException("cuBLASLt has no algorithm for " + shape);
            return result;
        } catch (RuntimeException e) {
            result.close();
            throw e;
        } finally {
            cublasLtMatmulPreferenceDestroy(pref);
        }
    }

    private Plan plan(Key key) {
        Plan plan = plans.get(key);
        if (plan != null) return plan;
        plan = new Plan();
        int type = key.precision() == Precision.FP16 ? CUDA_R_16F : CUDA_R_32F;
        String shape = key.precision() + " M=" + key.m() + " N=" + key.n() + " K=" + key.k();
        try (PointerPointer<?> out = new PointerPointer<>(1)) {
            CudaCheck.blas(cublasLtMatmulDescCreate(out, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate(" + shape + ")");
            plan.desc = new cublasLtMatmulDescOpaque_t(out.get(0));
            try (IntPointer v = new IntPointer(1)) {
                v.put(0, key.pointwise() ? CUBLAS_OP_N : CUBLAS_OP_T);
                CudaCheck.blas(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, v, 4), "cublasLtMatmulDescSetAttribute(TRANSA)");
                v.put(0, CUBLAS_OP_N);
                CudaCheck.blas(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, v, 4), "cublasLtMatmulDescSetAttribute(TRANSB)");
                v.put(0, key.bias() ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
                CudaCheck.blas(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, v, 4), "cublasLtMatmulDescSetAttribute(EPILOGUE)");
            }
            if (key.pointwise()) {
                // column-major views: A = x [M=P, K=Cin] (ld P), B = weight [K=Cin, N=Cout] (ld Cin), C = D = y [P, Cout] (ld P)
                CudaCheck.blas(cublasLtMatrixLayoutCreate(out, type, key.m(), key.k(), key.m()), "cublasLtMatrixLayoutCreate(A, " + shape + ")");
                plan.a = new cublasLtMatrixLayoutOpaque_t(out.get(0));
                CudaCheck.blas(cublasLtMatrixLayoutCreate(out, type, key.k(), key.n(), key.k()), "cublasLtMatrixLayoutCreate(B, " + shape + ")");
                plan.b = new cublasLtMatrixLayoutOpaque_t(out.get(0));
                CudaCheck.blas(cublasLtMatrixLayoutCreate(out, type, key.m(), key.n(), key.m()), "cublasLtMatrixLayoutCreate(C, " + shape + ")");
                plan.c = new cublasLtMatrixLayoutOpaque_t(out.get(0));
            } else {
                // column-major views: A = weight [K, N] (ld K), B = x [K, M] (ld K), C = D = y [N, M] (ld N)
                CudaCheck.blas(cublasLtMatrixLayoutCreate(out, type, key.k(), key.n(), key.k()), "cublasLtMatrixLayoutCreate(A, " + shape + ")");
                plan.a = new cublasLtMatrixLayoutOpaque_t(out.get(0));
                CudaCheck.blas(cublasLtMatrixLayoutCreate(out, type, key.k(), key.m(), key.k()), "cublasLtMatrixLayoutCreate(B, " + shape + ")");
                plan.b = new cublasLtMatrixLayoutOpaque_t(out.get(0));
                CudaCheck.blas(cublasLtMatrixLayoutCreate(out, type, key.n(), key.m(), key.n()), "cublasLtMatrixLayoutCreate(C, " + shape + ")");
                plan.c = new cublasLtMatrixLayoutOpaque_t(out.get(0));
            }

            CudaCheck.blas(cublasLtMatmulPreferenceCreate(out), "cublasLtMatmulPreferenceCreate");
            cublasLtMatmulPreferenceOpaque_t pref = new cublasLtMatmulPreferenceOpaque_t(out.get(0));
            try (LongPointer ws = new LongPointer(1); IntPointer found = new IntPointer(1)) {
                ws.put(0, workspace.bytes());
                CudaCheck.blas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws, 8),
                        "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
                plan.heuristic = new cublasLtMatmulHeuristicResult_t(1);
                CudaCheck.blas(cublasLtMatmulAlgoGetHeuristic(handle, plan.desc, plan.a, plan.b, plan.c, plan.c, pref, 1,
                        plan.heuristic, found), "cublasLtMatmulAlgoGetHeuristic(" + shape + ")");
                if (found.get(0) < 1) throw new CudaException("cuBLASLt has no algorithm for " + shape);
            } finally {
                cublasLtMatmulPreferenceDestroy(pref);
            }
        } catch (RuntimeException e) {
            destroy(plan);
            throw e;
        }
        plans.put(key, plan);
        return plan;
    }

    private static void destroy(Plan p) {
        if (p.c != null) cublasLtMatrixLayoutDestroy(p.c);
        if (p.b != null) cublasLtMatrixLayoutDestroy(p.b);
        if (p.a != null) cublasLtMatrixLayoutDestroy(p.a);
        if (p.desc != null) cublasLtMatmulDescDestroy(p.desc);
        if (p.heuristic != null) p.heuristic.close();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        List<Plan> list = new ArrayList<>(plans.values());
        list.addAll(gemmPlans.values());
        list.addAll(quantPlans.values());
        for (int i = list.size() - 1; i >= 0; i--) destroy(list.get(i));
        plans.clear();
        gemmPlans.clear();
        quantPlans.clear();
        try {
            workspace.close();
        } finally {
            CudaCheck.blas(cublasLtDestroy(handle), "cublasLtDestroy");
            one.close();
            zero.close();
            alpha.close();
            biasAddress.close();
            oneInt.close();
            zeroInt.close();
        }
    }
}
