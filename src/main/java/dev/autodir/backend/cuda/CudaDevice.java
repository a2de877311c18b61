package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

import java.util.Map;

import static org.bytedeco.cuda.global.cudart.cuCtxSetCurrent;
import static org.bytedeco.cuda.global.cudart.cuDeviceGet;
import static org.bytedeco.cuda.global.cudart.cuDeviceGetName;
import static org.bytedeco.cuda.global.cudart.cuDevicePrimaryCtxRelease;
import static org.bytedeco.cuda.global.cudart.cuDevicePrimaryCtxRetain;
import static org.bytedeco.cuda.global.cudart.cuInit;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMajor;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMinor;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrMaxSharedMemoryPerBlockOptin;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrMultiProcessorCount;
import static org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute;
import static org.bytedeco.cuda.global.cudart.cudaDriverGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToDevice;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaRuntimeGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;

/**
 * The cuda backend's device, stream and host transfers: the primary context of one GPU (bound to whichever thread
 * uses the backend), its attributes, one non-blocking stream every operation is queued on, the kernel library and
 * launcher, and one pinned staging buffer (plus a device staging buffer for FP16 conversions) that every upload and
 * download goes through in chunks. Closed last by {@link CudaOps#close()}.
 */
final class CudaDevice implements AutoCloseable {
    static final int THREADS = 256;
    static final long STAGING_BYTES = 32L << 20;

    private final int ordinal;
    private int device;
    private CUctx_st context;
    private boolean contextRetained;
    private Thread contextThread;
    final int ccMajor, ccMinor, multiprocessors, maxSharedOptin;
    private CUstream_st stream;
    private KernelLibrary library;
    private Launcher launcher;
    private Pointer pinnedRaw;
    private FloatPointer pinnedFloats;
    private IntPointer pinnedInts;
    private DeviceMemory staging;

    /** Opens device {@code ordinal}; on failure everything made so far is released before the exception leaves. */
    CudaDevice(int ordinal, boolean forceNvrtc) {
        this.ordinal = ordinal;
        boolean ok = false;
        try {
            CudaCheck.drv(cuInit(0), "cuInit");
            int[] dev = new int[1];
            CudaCheck.drv(cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
            device = dev[0];
            context = new CUctx_st();
            CudaCheck.drv(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain(" + device + ")");
            contextRetained = true;
            CudaCheck.drv(cuCtxSetCurrent(context), "cuCtxSetCurrent");
            contextThread = Thread.currentThread();
            CudaCheck.rt(cudaSetDevice(ordinal), "cudaSetDevice(" + ordinal + ")");
            ccMajor = attribute(cudaDevAttrComputeCapabilityMajor, "ComputeCapabilityMajor");
            ccMinor = attribute(cudaDevAttrComputeCapabilityMinor, "ComputeCapabilityMinor");
            if (ccMajor < 8) {
                throw new CudaException("GPU compute capability " + ccMajor + "." + ccMinor
                        + " is below 8.0: the kernels use mma.sync.m16n8k16 and ldmatrix");
            }
            multiprocessors = attribute(cudaDevAttrMultiProcessorCount, "MultiProcessorCount");
            maxSharedOptin = attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin, "MaxSharedMemoryPerBlockOptin");
            stream = new CUstream_st();
            CudaCheck.rt(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
            library = new KernelLibrary(ccMajor, ccMinor, forceNvrtc);
            launcher = new Launcher(library, stream);
            Pointer p = new Pointer();
            CudaCheck.rt(cudaMallocHost(p, STAGING_BYTES), "cudaMallocHost(" + STAGING_BYTES + " bytes of staging)");
            pinnedRaw = p;
            pinnedFloats = new FloatPointer(p).capacity(STAGING_BYTES / 4).limit(STAGING_BYTES / 4);
            pinnedInts = new IntPointer(p).capacity(STAGING_BYTES / 4).limit(STAGING_BYTES / 4);
            staging = DeviceMemory.allocate(STAGING_BYTES, "upload/download staging");
            ok = true;
        } finally {
            if (!ok) close();
        }
    }

    private int attribute(int attr, String name) {
        int[] v = new int[1];
        CudaCheck.rt(cudaDeviceGetAttribute(v, attr, ordinal), "cudaDeviceGetAttribute(" + name + ")");
        return v[0];
    }

    CUstream_st stream() { return stream; }

    Launcher launcher() { return launcher; }

    KernelLibrary library() { return library; }

    /** Makes the device's context current on the calling thread (a no-op on the thread that used it last). */
    void bind() {
        Thread current = Thread.currentThread();
        if (current != contextThread) {
            CudaCheck.drv(cuCtxSetCurrent(context), "cuCtxSetCurrent");
            contextThread = current;
        }
    }

    void synchronize(String why) {
        CudaCheck.rt(cudaStreamSynchronize(stream), "cudaStreamSynchronize(" + why + ")");
    }

    /** Blocks of {@link #THREADS} for a grid-stride loop over n elements: enough to fill the device, at most 32 per SM. */
    long blocks(long n) {
        long b = (n + THREADS - 1) / THREADS;
        return Math.max(1, Math.min(b, (long) multiprocessors * 32));
    }

    /** dst ← src for n elements, converting between float32 and FP16 (convert.cu). */
    void convert(long src, Precision srcType, long dst, Precision dstType, long n) {
        if (n == 0) return;
        launcher.kernel(Kernel.CONVERT).ptr(src).i32(srcType.halfFlag()).ptr(dst).i32(dstType.halfFlag()).i64(n)
                .launch(blocks(n), THREADS);
    }

    /** bytes from src to dst on the device, queued on the stream. */
    void copyOnDevice(long dst, long src, long bytes) {
        if (bytes == 0) return;
        CudaCheck.rt(cudaMemcpyAsync(DevicePointer.of(dst), DevicePointer.of(src), bytes, cudaMemcpyDeviceToDevice, stream),
                "cudaMemcpyAsync(device to device, " + bytes + " bytes)");
    }

    /** Host floats into device memory at {@code dst} in {@code dtype}, through the pinned staging buffer. */
    void copyFromHost(float[] data, long dst, Precision dtype, String op) {
        int n = data.length;
        int chunk = (int) (STAGING_BYTES / 4);
        for (int off = 0; off < n; off += chunk) {
            int len = Math.min(chunk, n - off);
            // the pinned buffer may still be the source of the previous asynchronous copy
            synchronize(op);
            pinnedFloats.position(0).put(data, off, len);
            if (dtype == Precision.FP32) {
                CudaCheck.rt(cudaMemcpyAsync(DevicePointer.of(dst + 4L * off), pinnedFloats, 4L * len, cudaMemcpyHostToDevice, stream),
                        "cudaMemcpyAsync(host to device, " + 4L * len + " bytes)");
            } else {
                CudaCheck.rt(cudaMemcpyAsync(DevicePointer.of(staging.address()), pinnedFloats, 4L * len, cudaMemcpyHostToDevice, stream),
                        "cudaMemcpyAsync(host to device, " + 4L * len + " bytes)");
                convert(staging.address(), Precision.FP32, dst + 2L * off, Precision.FP16, len);
            }
        }
    }

    /** Host ints into device memory at {@code dst}, through the pinned staging buffer. */
    void copyIntsFromHost(int[] data, long dst, String op) {
        int chunk = (int) (STAGING_BYTES / 4);
        for (int off = 0; off < data.length; off += chunk) {
            int len = Math.min(chunk, data.length - off);
            synchronize(op);
            pinnedInts.position(0).put(data, off, len);
            CudaCheck.rt(cudaMemcpyAsync(DevicePointer.of(dst + 4L * off), pinnedInts, 4L * len, cudaMemcpyHostToDevice, stream),
                    "cudaMemcpyAsync(host to device, " + 4L * len + " bytes of int32)");
        }
    }

    /** n elements of {@code dtype} at {@code src} as host floats (synchronises). */
    float[] download(long src, Precision dtype, long n, String op) {
        float[] out = new float[hostLength(n, op)];
        int chunk = (int) (STAGING_BYTES / 4);
        for (int off = 0; off < n; off += chunk) {
            int len = (int) Math.min(chunk, n - off);
            if (dtype == Precision.FP32) {
                CudaCheck.rt(cudaMemcpyAsync(pinnedFloats, DevicePointer.of(src + 4L * off), 4L * len, cudaMemcpyDeviceToHost, stream),
                        "cudaMemcpyAsync(device to host, " + 4L * len + " bytes)");
            } else {
                convert(src + 2L * off, Precision.FP16, staging.address(), Precision.FP32, len);
                CudaCheck.rt(cudaMemcpyAsync(pinnedFloats, DevicePointer.of(staging.address()), 4L * len, cudaMemcpyDeviceToHost, stream),
                        "cudaMemcpyAsync(device to host, " + 4L * len + " bytes)");
            }
            synchronize(op);
            pinnedFloats.position(0).get(out, off, len);
        }
        return out;
    }

    /** n int32 elements at {@code src} as a host array (synchronises). */
    int[] downloadInts(long src, long n, String op) {
        int[] out = new int[hostLength(n, op)];
        int chunk = (int) (STAGING_BYTES / 4);
        for (int off = 0; off < n; off += chunk) {
            int len = (int) Math.min(chunk, n - off);
            CudaCheck.rt(cudaMemcpyAsync(pinnedInts, DevicePointer.of(src + 4L * off), 4L * len, cudaMemcpyDeviceToHost, stream),
                    "cudaMemcpyAsync(device to host, " + 4L * len + " bytes of int32)");
            synchronize(op);
            pinnedInts.position(0).get(out, off, len);
        }
        return out;
    }

    private static int hostLength(long n, String op) {
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(op + ": " + n + " elements are too many for a Java array");
        return (int) n;
    }

    /** "NVIDIA H200 (sm_90, 132 SMs), driver API 13000, runtime 13010". */
    String describe() {
        byte[] name = new byte[256];
        String gpu = "?";
        if (cuDeviceGetName(name, name.length, device) == 0) {
            int n = 0;
            while (n < name.length && name[n] != 0) n++;
            gpu = new String(name, 0, n, java.nio.charset.StandardCharsets.US_ASCII);
        }
        int[] drv = new int[1], rtv = new int[1];
        cudaDriverGetVersion(drv);
        cudaRuntimeGetVersion(rtv);
        return gpu + " (sm_" + ccMajor + ccMinor + ", " + multiprocessors + " SMs), driver API " + drv[0] + ", runtime " + rtv[0];
    }

    /** Names of the loaded kernel modules and where each came from (packaged fatbin or NVRTC). */
    Map<String, String> kernelOrigins() { return library.origins(); }

    /** Frees the staging buffers, the launcher, the kernel library and the stream, and releases the context. */
    @Override
    public void close() {
        Closer c = new Closer();
        if (staging != null) c.run(staging::close);
        if (pinnedRaw != null) c.run(() -> CudaCheck.rt(cudaFreeHost(pinnedRaw), "cudaFreeHost(staging)"));
        pinnedRaw = null;
        if (launcher != null) c.run(launcher::close);
        if (library != null) c.run(library::close);
        if (stream != null && !stream.isNull()) c.run(() -> CudaCheck.rt(cudaStreamDestroy(stream), "cudaStreamDestroy"));
        stream = null;
        if (contextRetained) c.run(() -> CudaCheck.drv(cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease"));
        contextRetained = false;
        c.rethrow();
    }
}
