package dev.autodir.backend.onnxruntime;

import ai.onnxruntime.OrtEnvironment;

/**
 * Whether ONNX Runtime's native library loads in this process, probed once. The Java API extracts
 * {@code libonnxruntime} from its jar (or loads it from {@code -Donnxruntime.native.path=DIR}) on first use; a missing
 * or incompatible library (another platform, an old glibc) throws {@link UnsatisfiedLinkError} there, and a missing
 * jar {@link NoClassDefFoundError}, so the probe catches {@link Throwable} and keeps the reason.
 */
public final class OnnxRuntimeAvailability {
    private static volatile String reason;
    private static volatile boolean probed;

    private OnnxRuntimeAvailability() { }

    /** Null when ONNX Runtime can run here; else why not (one line). {@code -Dautodir.onnxruntime.disable=true} says no. */
    public static String unavailableReason() {
        if (Boolean.getBoolean("autodir.onnxruntime.disable")) return "disabled by -Dautodir.onnxruntime.disable=true";
        if (!probed) {
            synchronized (OnnxRuntimeAvailability.class) {
                if (!probed) {
                    reason = probe();
                    probed = true;
                }
            }
        }
        return reason;
    }

    private static String probe() {
        try {
            OrtEnvironment.getEnvironment();
            return null;
        } catch (Throwable t) {
            String msg = t.getMessage() == null ? "" : ": " + t.getMessage().replaceAll("\\s*\\R\\s*", " ");
            return "ONNX Runtime's native library did not load (" + t.getClass().getSimpleName() + msg + ")";
        }
    }
}
