package dev.autodir.backend.cuda;

import dev.autodir.backend.Tensor;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.Pointer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.bytedeco.cuda.global.cudart.cuDeviceGet;
import static org.bytedeco.cuda.global.cudart.cuDeviceGetName;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMajor;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMinor;
import static org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToDevice;

/**
 * The few handles a library running on the cuda backend's device memory and stream needs (the tensorrt backend:
 * {@code enqueueV3} on the backend's stream with tensor addresses bound by name). Nothing here allocates or frees:
 * the tensors stay owned by their {@link CudaOps}.
 */
public final class CudaInterop {
    private CudaInterop() { }

    /** Binds the backend's CUDA context to the calling thread (before calling a library that uses the runtime API). */
    public static void bind(CudaOps ops) { ops.enter("interop"); }

    /** The backend's stream: work queued on it is ordered with the backend's own kernels. */
    public static CUstream_st stream(CudaOps ops) {
        ops.enter("interop stream");
        return ops.stream();
    }

    /** The device address of a valid tensor of {@code ops} (float or int32), as a non-owning JavaCPP pointer. */
    public static Pointer pointer(CudaOps ops, Tensor t, String op) {
        return DevicePointer.of(tensor(ops, t, op).address(op));
    }

    /** dst ← src byte for byte on the backend's stream: same element count and element size (e.g. int32 into int32). */
    public static void copyRaw(CudaOps ops, Tensor dst, Tensor src, String op) {
        CudaTensor d = tensor(ops, dst, op), s = tensor(ops, src, op);
        if (d.numel() != s.numel() || d.dtype().bytes() != s.dtype().bytes()) {
            throw new IllegalArgumentException(op + ": cannot copy " + s + " into " + d + " byte for byte");
        }
        if (s.bytes() == 0) return;
        ops.enter(op);
        CudaCheck.rt(cudaMemcpyAsync(DevicePointer.of(d.address(op)), DevicePointer.of(s.address(op)), s.bytes(), cudaMemcpyDeviceToDevice,
                ops.stream()), "cudaMemcpyAsync(" + op + ", " + s.bytes() + " bytes)");
    }

    /** The GPU's name as the driver reports it ("NVIDIA H200"). */
    public static String deviceName(CudaOps ops) {
        ops.enter("interop deviceName");
        int[] dev = new int[1];
        CudaCheck.drv(cuDeviceGet(dev, ops.options().device()), "cuDeviceGet(" + ops.options().device() + ")");
        byte[] name = new byte[256];
        CudaCheck.drv(cuDeviceGetName(name, name.length, dev[0]), "cuDeviceGetName");
        int n = 0;
        while (n < name.length && name[n] != 0) n++;
        return new String(name, 0, n, StandardCharsets.US_ASCII).trim();
    }

    /** "9.0": the GPU's compute capability. */
    public static String computeCapability(CudaOps ops) {
        ops.enter("interop computeCapability");
        int[] major = new int[1], minor = new int[1];
        CudaCheck.rt(cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, ops.options().device()), "cudaDeviceGetAttribute(major)");
        CudaCheck.rt(cudaDeviceGetAttribute(minor, cudaDevAttrComputeCapabilityMinor, ops.options().device()), "cudaDeviceGetAttribute(minor)");
        return major[0] + "." + minor[0];
    }

    private static CudaTensor tensor(CudaOps ops, Tensor t, String op) {
        if (!(t instanceof CudaTensor c) || c.owner() != ops) {
            throw new IllegalArgumentException(op + ": " + (t == null ? "null" : t.getClass().getSimpleName() + Arrays.toString(t.shape()))
                    + " is not a tensor of this cuda backend");
        }
        c.checkValid(op);
        return c;
    }
}
