package dev.autodir.backend.cuda;

import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

import static org.bytedeco.cuda.global.nvrtc.nvrtcCompileProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCreateProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcDestroyProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBIN;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBINSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLog;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLogSize;

/**
 * Run-time compilation of a kernel source to a cubin (machine code for the exact GPU, {@code sm_XY}), the
 * fallback when the jar holds no fatbin for a kernel or the driver cannot use it. A cubin, not PTX: a newer
 * NVRTC emits PTX versions an older driver rejects, while SASS for the device's own architecture always loads.
 */
final class Nvrtc {
    private Nvrtc() { }

    /**
     * Compiles {@code source} (named {@code name} in messages) with the given headers available to
     * {@code #include "..."}; returns the cubin bytes. A compile error throws with NVRTC's log.
     */
    static byte[] compileToCubin(String name, String source, String[] headerNames, String[] headerSources,
                                 int ccMajor, int ccMinor) {
        _nvrtcProgram program = new _nvrtcProgram();
        int headers = headerNames.length;
        try (BytePointer src = new BytePointer(source);
             BytePointer progName = new BytePointer(name);
             PointerPointer<BytePointer> hdrSrc = new PointerPointer<>(headerSources);
             PointerPointer<BytePointer> hdrNames = new PointerPointer<>(headerNames)) {
            CudaCheck.nvrtc(nvrtcCreateProgram(program, src, progName, headers,
                    headers == 0 ? null : hdrSrc, headers == 0 ? null : hdrNames), "nvrtcCreateProgram(" + name + ")");
            try {
                String[] options = {
                        "--gpu-architecture=sm_" + ccMajor + ccMinor,
                        "--std=c++17",
                        "--device-as-default-execution-space",
                };
                int rc;
                try (PointerPointer<BytePointer> opts = new PointerPointer<>(options)) {
                    rc = nvrtcCompileProgram(program, options.length, opts);
                }
                if (rc != 0) {
                    throw new CudaException("nvrtcCompileProgram(" + name + ", sm_" + ccMajor + ccMinor + ")", rc,
                            "compile log:\n" + log(program));
                }
                try (SizeTPointer size = new SizeTPointer(1)) {
                    CudaCheck.nvrtc(nvrtcGetCUBINSize(program, size), "nvrtcGetCUBINSize(" + name + ")");
                    long n = size.get(0);
                    if (n <= 0 || n > Integer.MAX_VALUE) {
                        throw new CudaException("nvrtcGetCUBINSize(" + name + ") returned " + n + " bytes: no cubin");
                    }
                    try (BytePointer cubin = new BytePointer(n)) {
                        CudaCheck.nvrtc(nvrtcGetCUBIN(program, cubin), "nvrtcGetCUBIN(" + name + ")");
                        byte[] out = new byte[(int) n];
                        cubin.get(out);
                        return out;
                    }
                }
            } finally {
                nvrtcDestroyProgram(program);
            }
        }
    }

    private static String log(_nvrtcProgram program) {
        try (SizeTPointer size = new SizeTPointer(1)) {
            if (nvrtcGetProgramLogSize(program, size) != 0 || size.get(0) <= 1) return "(no log)";
            try (BytePointer log = new BytePointer(size.get(0))) {
                if (nvrtcGetProgramLog(program, log) != 0) return "(log unavailable)";
                return log.getString();
            }
        }
    }
}
