package dev.autodir.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMajor;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMinor;
import static org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceCount;

/**
 * Whether this process can use a GPU for the cuda backend, probed once. Loading the JavaCPP CUDA bindings
 * needs the driver's libcuda.so.1; without it the first touch throws an UnsatisfiedLinkError (and later
 * touches NoClassDefFoundError), so the probe catches {@link Throwable} and keeps the reason.
 */
public final class CudaAvailability {
    private static volatile String reason;
    private static volatile boolean probed;

    private CudaAvailability() { }

    /** Null when a usable GPU (compute capability 8.0 or newer) is present; else why not. */
    public static String unavailableReason() {
        if (!probed) {
            synchronized (CudaAvailability.class) {
                if (!probed) {
                    reason = probe();
                    probed = true;
                }
            }
        }
        return reason;
    }

    public static boolean usable() { return unavailableReason() == null; }

    private static String probe() {
        if (Boolean.getBoolean("autodir.cuda.disable")) return "disabled by -Dautodir.cuda.disable=true";
        try {
            int[] count = new int[1];
            int rc = cudaGetDeviceCount(count);
            if (rc != 0) return "cudaGetDeviceCount returned error " + rc + " (no usable driver or device)";
            if (count[0] < 1) return "no CUDA device";
            int[] major = new int[1], minor = new int[1];
            cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, 0);
            cudaDeviceGetAttribute(minor, cudaDevAttrComputeCapabilityMinor, 0);
            if (major[0] < 8) return "GPU 0 has compute capability " + major[0] + "." + minor[0] + ", below 8.0";
            return null;
        } catch (Throwable t) {
            // the loader names jnicudart, but the usual cause is a missing NVIDIA driver (libcuda.so.1)
            return "CUDA bindings unavailable, usually no NVIDIA driver (libcuda.so.1) or no GPU: " + t
                    + (t instanceof UnsatisfiedLinkError ? " (-Dorg.bytedeco.javacpp.logger.debug=true shows the loader's real error)" : "");
        }
    }
}
