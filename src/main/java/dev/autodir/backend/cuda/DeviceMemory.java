package dev.autodir.backend.cuda;

import org.bytedeco.javacpp.Pointer;

import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;

/** One cudaMalloc allocation with an owner: freed exactly once by {@link #close()}. */
final class DeviceMemory implements AutoCloseable {
    private final long address;
    private final long bytes;
    private boolean closed;

    private DeviceMemory(long address, long bytes) {
        this.address = address;
        this.bytes = bytes;
    }

    static DeviceMemory allocate(long bytes, String purpose) {
        Pointer p = new Pointer();
        long size = Math.max(bytes, 1);
        CudaCheck.rt(cudaMalloc(p, size), "cudaMalloc(" + size + " bytes for " + purpose + ")");
        return new DeviceMemory(p.address(), size);
    }

    static long rawAllocate(long bytes, String purpose) {
        Pointer p = new Pointer();
        long size = Math.max(bytes, 1);
        CudaCheck.rt(cudaMalloc(p, size), "cudaMalloc(" + size + " bytes for " + purpose + ")");
        return p.address();
    }

    static void rawFree(long address, String purpose) {
        CudaCheck.rt(cudaFree(DevicePointer.of(address)), "cudaFree(" + purpose + ")");
    }

    long address() { return address; }

    long bytes() { return bytes; }

    boolean isClosed() { return closed; }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        CudaCheck.rt(cudaFree(DevicePointer.of(address)), "cudaFree(" + bytes + " bytes)");
    }
}
