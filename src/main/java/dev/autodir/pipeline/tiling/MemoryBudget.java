package dev.autodir.pipeline.tiling;

import dev.autodir.backend.Ops;

import java.lang.management.ManagementFactory;

/**
 * The default memory budget of a stage: for a cpu stage 2/3 of the machine's physical memory (a third is left to
 * the system, the page cache of a memory-mapped checkpoint and other programs), for a cuda stage the device's memory
 * less 1 GiB for the runtime's own allocations.
 */
public final class MemoryBudget {
    private MemoryBudget() { }

    /** Physical memory of this machine in bytes (the JVM's view), or 16 GiB when the JVM cannot tell. */
    public static long physicalBytes() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long total = os.getTotalMemorySize();
            if (total > 0) return total;
        }
        return 16L << 30;
    }

    public static long defaultBytes(Ops ops) {
        if (ops.name().equals("cuda")) {
            long device = deviceBytes();
            if (device > 0) return device - (1L << 30);
        }
        return physicalBytes() / 3 * 2;
    }

    /** The current CUDA device's total memory, or 0 when it cannot be asked (no driver, no device). */
    static long deviceBytes() {
        try {
            org.bytedeco.javacpp.SizeTPointer free = new org.bytedeco.javacpp.SizeTPointer(1), total = new org.bytedeco.javacpp.SizeTPointer(1);
            try {
                if (org.bytedeco.cuda.global.cudart.cudaMemGetInfo(free, total) != 0) return 0;
                return total.get();
            } finally {
                free.close();
                total.close();
            }
        } catch (Throwable e) {
            return 0;                                   // the cuda libraries are absent or unusable: use the host's rule
        }
    }
}
