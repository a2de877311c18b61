package dev.autodir.backend.cuda;

import org.bytedeco.javacpp.BytePointer;

import static org.bytedeco.cuda.global.cublas.cublasLtGetStatusName;
import static org.bytedeco.cuda.global.cublas.cublasLtGetStatusString;
import static org.bytedeco.cuda.global.cudart.cuGetErrorName;
import static org.bytedeco.cuda.global.cudart.cuGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorName;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudnn.cudnnGetErrorString;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetErrorString;

/**
 * Turns every status code into an exception that names the call (the library-throws rule: nothing here
 * exits). Each library gets its own method so the message carries that library's error name.
 */
final class CudaCheck {
    private CudaCheck() { }

    /** CUDA runtime (cudaError_t; 0 = cudaSuccess). */
    static void rt(int code, String call) {
        if (code != 0) throw new CudaException(call, code, str(cudaGetErrorName(code)) + ": " + str(cudaGetErrorString(code)));
    }

    /** CUDA driver (CUresult; 0 = CUDA_SUCCESS). */
    static void drv(int code, String call) {
        if (code == 0) return;
        String name = "CUresult " + code, text = "";
        try {
            BytePointer n = new BytePointer(), t = new BytePointer();
            if (cuGetErrorName(code, n) == 0 && !n.isNull()) name = n.getString();
            if (cuGetErrorString(code, t) == 0 && !t.isNull()) text = t.getString();
        } catch (RuntimeException ignored) {
            // the name lookup is best effort; the code itself is still reported
        }
        throw new CudaException(call, code, name + (text.isEmpty() ? "" : ": " + text));
    }

    /** cuBLAS / cuBLASLt (cublasStatus_t; 0 = CUBLAS_STATUS_SUCCESS). */
    static void blas(int code, String call) {
        if (code != 0) throw new CudaException(call, code, str(cublasLtGetStatusName(code)) + ": " + str(cublasLtGetStatusString(code)));
    }

    /** cuDNN (cudnnStatus_t; 0 = CUDNN_STATUS_SUCCESS). */
    static void dnn(int code, String call) {
        if (code != 0) throw new CudaException(call, code, str(cudnnGetErrorString(code)));
    }

    /** NVRTC (nvrtcResult; 0 = NVRTC_SUCCESS). */
    static void nvrtc(int code, String call) {
        if (code != 0) throw new CudaException(call, code, str(nvrtcGetErrorString(code)));
    }

    private static String str(BytePointer p) {
        return p == null || p.isNull() ? "?" : p.getString();
    }
}
