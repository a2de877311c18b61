package dev.autodir.backend.cpu;

import org.bytedeco.openblas.global.openblas_nolapack;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;

/**
 * Row-major {@code cblas_sgemm} on native buffers only: float[] arguments would make JavaCPP copy
 * the arrays in and out (Get/ReleaseFloatArrayElements) on every call.
 */
final class Blas {
    private Blas() { }

    /**
     * C[m×n] = alpha · op(A) · op(B) + beta · C, every matrix row-major at the given float offsets
     * with leading dimensions lda, ldb, ldc; op(A) is m×k, op(B) is k×n.
     */
    static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                      NativeFloats a, long aOff, int lda, NativeFloats b, long bOff, int ldb,
                      float beta, NativeFloats c, long cOff, int ldc) {
        if (m == 0 || n == 0) return;
        openblas_nolapack.cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, m, n, k, alpha, a.at(aOff), lda, b.at(bOff), ldb,
                beta, c.at(cOff), ldc);
    }

    private static volatile boolean singleThreaded;

    /**
     * Makes OpenBLAS run every call on its calling thread (openblas_set_num_threads(1), process-wide):
     * the cpu backend splits the products over its own workers. Safe to call more than once.
     */
    static void useCallerThreadsOnly() {
        if (singleThreaded) return;
        synchronized (Blas.class) {
            if (!singleThreaded) {
                org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(1);
                singleThreaded = true;
            }
        }
    }

    /** OpenBLAS's worker-thread count as it reports it. */
    static int threads() { return org.bytedeco.openblas.presets.openblas_nolapack.blas_get_num_threads(); }
}
