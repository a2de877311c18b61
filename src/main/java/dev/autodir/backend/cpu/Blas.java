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
                try {
                    org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(1);
                } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
                    throw new IllegalStateException("cpu backend: the OpenBLAS native library (JavaCPP preset "
                            + "org.bytedeco:openblas, linux-x86_64) could not be loaded: " + e, e);
                }
                singleThreaded = true;
            }
        }
    }

    private static volatile boolean coreTypeChecked;

    /**
     * OpenBLAS picks its kernels when it loads, and OPENBLAS_CORETYPE overrides that choice. On a CPU
     * with AVX-512 (16 float lanes) a forced AVX2 core type (e.g. Haswell, as this project's build
     * machine sets) makes the convolutions about 1.4–1.7× slower: say so once, at WARNING level.
     */
    static void warnAboutCoreType() {
        if (coreTypeChecked) return;
        coreTypeChecked = true;
        String core = System.getenv("OPENBLAS_CORETYPE");
        if (core == null || VectorMath.LANES < 16) return;
        String c = core.toLowerCase(java.util.Locale.ROOT);
        if (c.contains("skylakex") || c.contains("cooperlake") || c.contains("sapphirerapids")) return;
        System.getLogger(Blas.class.getName()).log(System.Logger.Level.WARNING,
                "OPENBLAS_CORETYPE=" + core + " forces OpenBLAS onto kernels without AVX-512 although this CPU has it;"
                        + " unset it (or set SkylakeX) for about 1.5x faster matrix products in the cpu backend");
    }

    /** OpenBLAS's worker-thread count as it reports it. */
    static int threads() { return org.bytedeco.openblas.presets.openblas_nolapack.blas_get_num_threads(); }
}
