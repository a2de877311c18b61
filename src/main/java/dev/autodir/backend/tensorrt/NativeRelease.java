package dev.autodir.backend.tensorrt;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;

/**
 * Deletes TensorRT objects. TensorRT 10 removed {@code destroy()}: objects are freed with C++ {@code delete}, and
 * the JavaCPP preset (1.5.13) registers no deallocator on the objects its {@code create...} functions return
 * (bytedeco/javacpp-presets#1699; checked in the 1.5.13 JNI code of {@code createInferBuilder}), so
 * {@link Pointer#deallocate()} alone frees nothing.
 *
 * <p>This class does what {@code delete p} compiles to for a class with a virtual destructor under the Itanium C++ ABI
 * (Linux x86-64): it calls the deleting destructor from the object's vtable, through JavaCPP's own
 * {@code NativeDeallocator} (which calls a {@code void(*)(void*)} with the object's address). The slot is 1 for the
 * classes derived from {@code nvinfer1::INoCopy} (its destructor is its first virtual function: slot 0 is the
 * complete-object destructor, slot 1 the deleting one) and 9 for {@code nvonnxparser::IParser} (eight virtual
 * functions precede its destructor in NvOnnxParser.h).
 *
 * <p>NativeReleaseTest checks the mechanism on a stand-in object (a vtable slot holding libc's {@code time}, called
 * with the object's address). <b>Not verified</b>: the slot numbers against TensorRT's own objects, since TensorRT is
 * installed on no machine this project runs on. {@code -Dautodir.tensorrt.release=false}
 * turns it off (the objects are then leaked, which is safe but keeps their host and device memory until exit). An
 * object that already has a deallocator (a future preset) is deallocated normally instead.
 */
final class NativeRelease {
    /** Deleting-destructor slot of classes derived from nvinfer1::INoCopy. */
    static final int INOCOPY_SLOT = 1;
    /** Deleting-destructor slot of nvonnxparser::IParser. */
    static final int PARSER_SLOT = 9;

    private static final boolean ENABLED = Boolean.parseBoolean(System.getProperty("autodir.tensorrt.release", "true"));

    private NativeRelease() { }

    /** Deletes {@code p} (null or already released: nothing). Never throws: a failed release is reported on stderr. */
    static void delete(Pointer p, int slot) {
        if (p == null || p.isNull()) return;
        try {
            if (ENABLED) {
                if (deallocatorOf(p) == null) {
                    long vtable = new LongPointer(p).get(0);
                    long deleting = new LongPointer(new Pointer() { { address = vtable; } }).get(slot);
                    attach(p, deleting);
                }
                p.deallocate();
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("tensorrt: could not release a " + p.getClass().getSimpleName() + " (" + e + "); it is leaked");
        } finally {
            p.setNull();
        }
    }

    private static Object deallocatorOf(Pointer p) throws ReflectiveOperationException {
        Method m = Pointer.class.getDeclaredMethod("deallocator");
        m.setAccessible(true);
        return m.invoke(p);
    }

    private static void attach(Pointer p, long function) throws ReflectiveOperationException {
        Class<?> nd = Class.forName("org.bytedeco.javacpp.Pointer$NativeDeallocator");
        Constructor<?> c = nd.getDeclaredConstructor(Pointer.class, long.class, long.class);
        c.setAccessible(true);
        Object deallocator = c.newInstance(p, p.address(), function);
        Method set = Pointer.class.getDeclaredMethod("deallocator", Class.forName("org.bytedeco.javacpp.Pointer$Deallocator"));
        set.setAccessible(true);
        set.invoke(p, deallocator);
    }
}
