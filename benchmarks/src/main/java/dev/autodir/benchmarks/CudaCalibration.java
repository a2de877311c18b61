package dev.autodir.benchmarks;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.cublasCreate_v2;
import static org.bytedeco.cuda.global.cublas.cublasDestroy_v2;
import static org.bytedeco.cuda.global.cublas.cublasSgemm_v2;
import static org.bytedeco.cuda.global.cudart.cudaDeviceSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMemset;

/**
 * The cuda guard's calibration workload, none of it the engine's code: 8 cuBLAS sgemm of 4096³ on the default stream,
 * then a device synchronisation. Written without a GPU: it has not run yet (gpu-check.sh's guard step is its first run).
 */
final class CudaCalibration implements LatencyGuard.Calibration {
    private static final int N = 4096, GEMMS = 8;
    private final cublasContext handle = new cublasContext();
    private final Pointer a = new Pointer(), b = new Pointer(), c = new Pointer();
    private final FloatPointer alpha = new FloatPointer(1f), beta = new FloatPointer(0f);   // host scalars (pointer mode host)

    CudaCalibration() {
        long bytes = 4L * N * N;
        for (Pointer p : new Pointer[] {a, b, c}) {
            check(cudaMalloc(p, bytes), "cudaMalloc");
            check(cudaMemset(p, 0, bytes), "cudaMemset");
        }
        check(cublasCreate_v2(handle), "cublasCreate");
    }

    @Override public double runMs() {
        check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
        long t0 = System.nanoTime();
        for (int g = 0; g < GEMMS; g++) {
            check(cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_N, N, N, N, alpha, new FloatPointer(a), N, new FloatPointer(b), N,
                    beta, new FloatPointer(c), N), "cublasSgemm");
        }
        check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
        return (System.nanoTime() - t0) / 1e6;
    }

    @Override public void close() {
        cublasDestroy_v2(handle);
        for (Pointer p : new Pointer[] {c, b, a}) cudaFree(p);
        alpha.close();
        beta.close();
    }

    private static void check(int status, String call) {
        if (status != 0) throw new IllegalStateException(call + " failed with status " + status);
    }
}
