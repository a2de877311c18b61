package dev.autodir.backend;

/** Whether the cuda backend can start here, and its factory. */
final class CudaAvailability {
    private CudaAvailability() { }

    /** null when usable, else the reason it is not. */
    static String unavailableReason() {
        return "the cuda backend is not built into this version";
    }

    static Ops create(Precision precision) {
        throw new IllegalStateException("cuda backend not available");
    }
}
