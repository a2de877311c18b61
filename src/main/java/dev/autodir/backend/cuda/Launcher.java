package dev.autodir.backend.cuda;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

import static org.bytedeco.cuda.global.cudart.cuLaunchKernel;

/**
 * Launches kernels on one stream with {@code cuLaunchKernel}. Arguments are written into a fixed native
 * block of 8-byte slots whose addresses form the {@code kernelParams} array (the driver reads each
 * parameter's size from the kernel image). Every launch is checked against the kernel's {@link Kernel}
 * signature: the argument count and the kind of each argument.
 *
 * <p>Not thread-safe: one launch is built at a time (the backend is used from one thread).
 */
final class Launcher implements AutoCloseable {
    private static final int MAX_ARGS = 32;

    private final KernelLibrary library;
    private final CUstream_st stream;
    private final BytePointer slots = new BytePointer(MAX_ARGS * 8L);
    private final PointerPointer<Pointer> params = new PointerPointer<>(MAX_ARGS);
    private final Args args = new Args();
    private long launches;
    private String lastFunction;

    Launcher(KernelLibrary library, CUstream_st stream) {
        this.library = library;
        this.stream = stream;
        slots.fill(0);
        for (int i = 0; i < MAX_ARGS; i++) params.put(i, DevicePointer.of(slots.address() + 8L * i));
    }

    /** Starts a launch of {@code k}: add the arguments in order, then call {@link Args#launch}. */
    Args kernel(Kernel k) {
        args.kernel = k;      // a launch abandoned by an exception while its arguments were added is dropped here
        args.count = 0;
        return args;
    }

    /** Launches {@code l}, whose pointer arguments are device addresses (Long; null for none). */
    void launch(KernelLaunch l) {
        Args a = kernel(l.kernel());
        String sig = l.kernel().signature();
        for (int i = 0; i < sig.length(); i++) {
            Object v = l.args().get(i);
            switch (sig.charAt(i)) {
                case 'p' -> a.ptr(v == null ? 0L : (Long) v);
                case 'i' -> a.i32((Integer) v);
                case 'l' -> a.i64(((Number) v).longValue());
                case 'f' -> a.f32((Float) v);
                default -> throw new IllegalStateException(l.kernel().function() + ": signature letter " + sig.charAt(i));
            }
        }
        a.launch(l.gx(), l.gy(), l.gz(), l.bx(), l.by(), l.bz(), l.sharedBytes());
    }

    long launches() { return launches; }

    /** The function of the most recent launch (null before the first): tests check which variant a shape selects. */
    String lastFunction() { return lastFunction; }

    final class Args {
        private Kernel kernel;
        private int count;

        private void expect(char kind) {
            String sig = kernel.signature();
            if (count >= sig.length()) {
                throw new IllegalArgumentException(kernel.function() + ": more than " + sig.length() + " arguments");
            }
            if (sig.charAt(count) != kind) {
                throw new IllegalArgumentException(kernel.function() + ": argument " + count + " must be '" + sig.charAt(count)
                        + "' (signature " + sig + "), got '" + kind + "'");
            }
        }

        Args ptr(long address) {
            expect('p');
            slots.putLong(8L * count++, address);
            return this;
        }

        Args ptr(CudaTensor t, String op) { return ptr(t.address(op)); }

        Args i32(int v) {
            expect('i');
            slots.putLong(8L * count, 0L);
            slots.putInt(8L * count++, v);
            return this;
        }

        Args i64(long v) {
            expect('l');
            slots.putLong(8L * count++, v);
            return this;
        }

        Args f32(float v) {
            expect('f');
            slots.putLong(8L * count, 0L);
            slots.putFloat(8L * count++, v);
            return this;
        }

        /** 1-D launch. */
        void launch(long blocks, int threads) {
            launch(blocks, 1, 1, threads, 1, 1, 0);
        }

        void launch(long gx, long gy, long gz, int bx, int by, int bz, int sharedBytes) {
            Kernel k = kernel;
            kernel = null;
            if (count != k.signature().length()) {
                throw new IllegalArgumentException(k.function() + ": " + count + " arguments given, signature "
                        + k.signature() + " has " + k.signature().length());
            }
            if (gx < 1 || gy < 1 || gz < 1 || gx > Integer.MAX_VALUE || gy > 65535 || gz > 65535) {
                throw new IllegalArgumentException(k.function() + ": grid (" + gx + ", " + gy + ", " + gz + ") out of range");
            }
            CUfunc_st f = library.function(k);
            library.ensureDynamicSharedMemory(k, f, sharedBytes);
            int rc = cuLaunchKernel(f, (int) gx, (int) gy, (int) gz, bx, by, bz, sharedBytes, stream, params, (PointerPointer<?>) null);
            if (rc != 0) {   // the message is built only on failure: this is the hottest call of the backend
                CudaCheck.drv(rc, "cuLaunchKernel(" + k.function() + ", grid " + gx + "x" + gy + "x" + gz
                        + ", block " + bx + "x" + by + "x" + bz + ", smem " + sharedBytes + ")");
            }
            launches++;
            lastFunction = k.function();
        }
    }

    @Override
    public void close() {
        params.close();
        slots.close();
    }
}
