package dev.autodir.backend.cuda;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * One kernel launch as data: the kernel, grid, block, dynamic shared bytes and the arguments in signature order.
 * Pointer arguments are whatever the caller's memory is: device addresses ({@code Long}, null or 0 for none) when the
 * backend launches it ({@link Launcher#launch(KernelLaunch)}), the emulator's buffers in the tests, which run the very
 * launches the backend builds (the argument order, the grid and the derived arguments such as offsets are then
 * checked, not retyped). Integers are {@code Integer} ('i') or {@code Long} ('l'), floats {@code Float}.
 */
record KernelLaunch(Kernel kernel, long gx, long gy, long gz, int bx, int by, int bz, int sharedBytes, List<Object> args) {
    KernelLaunch {
        if (args.size() != kernel.signature().length()) {
            throw new IllegalArgumentException(kernel.function() + ": " + args.size() + " arguments for signature " + kernel.signature());
        }
        args = Collections.unmodifiableList(Arrays.asList(args.toArray()));   // nulls allowed (null pointers)
    }

    /** A 1-D launch of {@code blocks} blocks of {@code threads}. */
    static KernelLaunch of(Kernel kernel, long blocks, int threads, Object... args) {
        return new KernelLaunch(kernel, blocks, 1, 1, threads, 1, 1, 0, Arrays.asList(args));
    }
}
