package dev.autodir.backend.cuda;

/** A CUDA, cuBLAS, cuDNN or NVRTC call that failed; the message names the call and the library's error. */
public final class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int code;

    public CudaException(String call, int code, String detail) {
        super(call + " failed: " + detail + " (code " + code + ")");
        this.call = call;
        this.code = code;
    }

    public CudaException(String message) {
        super(message);
        this.call = "";
        this.code = 0;
    }

    /** The failed call, e.g. {@code "cudaMalloc(1048576 bytes)"}; empty for errors that are not a call. */
    public String call() { return call; }

    /** The library's status code (cudaError_t, CUresult, cublasStatus_t, cudnnStatus_t, nvrtcResult). */
    public int code() { return code; }
}
