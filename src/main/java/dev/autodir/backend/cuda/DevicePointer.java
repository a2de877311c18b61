package dev.autodir.backend.cuda;

import org.bytedeco.javacpp.Pointer;

/**
 * A raw address (device memory, or a host address we own elsewhere) handed to a JavaCPP function. It owns
 * nothing: it has no deallocator, and the memory it names is freed by its real owner.
 */
final class DevicePointer extends Pointer {
    DevicePointer(long address) {
        this.address = address;
    }

    static DevicePointer of(long address) { return new DevicePointer(address); }
}
