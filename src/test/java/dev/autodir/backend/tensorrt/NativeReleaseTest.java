package dev.autodir.backend.tensorrt;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The release mechanism of {@link NativeRelease} on a stand-in object (TensorRT is not here): a malloc'd "object"
 * whose first word points to a malloc'd "vtable", whose slot holds libc's {@code time(time_t*)} — a
 * {@code void(*)(void*)}-compatible function with a visible effect: it writes the current time into the object. So
 * the test sees that the slot was read from the object's vtable and called with the object's address, through
 * JavaCPP's NativeDeallocator. (That TensorRT's deleting destructors sit in slots 1 and 9 is the part only a machine
 * with TensorRT can check.)
 */
class NativeReleaseTest {
    private static Pointer at(long where) {
        return new Pointer() { { address = where; } };   // (a parameter named address would be shadowed by the field)
    }

    @Test void theDeletingDestructorIsCalledFromTheVtableWithTheObject() {
        Pointer object = Pointer.malloc(16), vtable = Pointer.malloc(8 * 10);
        long objectAddress = object.address();
        try {
            LongPointer slots = new LongPointer(vtable).capacity(10);
            for (int i = 0; i < 10; i++) slots.put(i, 0);
            slots.put(NativeRelease.PARSER_SLOT, Loader.addressof("time").address());
            new LongPointer(object).capacity(2).put(0, vtable.address()).put(1, 0);
            long before = System.currentTimeMillis() / 1000;
            NativeRelease.delete(object, NativeRelease.PARSER_SLOT);
            long after = System.currentTimeMillis() / 1000;
            long written = new LongPointer(at(objectAddress)).capacity(1).get(0);
            assertTrue(written >= before && written <= after + 1, "time() wrote " + written + " into the object, expected the clock " + before + ".." + after);
            assertTrue(object.isNull(), "the Java pointer is cleared after its release");
        } finally {
            Pointer.free(at(objectAddress));
            Pointer.free(vtable);
        }
    }

    @Test void anObjectWithItsOwnDeallocatorIsDeallocatedNormally() {
        BytePointer b = new BytePointer(16);   // zeros: reading a "vtable" from it would crash the test JVM
        b.put(0, (byte) 0);
        NativeRelease.delete(b, NativeRelease.INOCOPY_SLOT);
        assertTrue(b.isNull());
        NativeRelease.delete(null, NativeRelease.INOCOPY_SLOT);
        NativeRelease.delete(b, NativeRelease.INOCOPY_SLOT);   // already released: nothing
    }
}
