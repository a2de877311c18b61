package dev.autodir.backend.tensorrt;

import dev.autodir.backend.cuda.CudaAvailability;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Whether this process can run the tensorrt backend, probed once: TensorRT 10's libraries (libnvinfer.so.10 and
 * libnvonnxparser.so.10, which the JavaCPP bindings link; the bindings do not bundle them), a usable GPU (the cuda
 * backend's probe), then the bindings themselves. The reason is one line naming everything missing, e.g.
 * "libnvinfer.so.10 not found; libnvonnxparser.so.10 not found; no GPU (cudaGetDeviceCount returned error 35)
 * (searched: ...)".
 */
public final class TensorRTAvailability {
    public static final String NVINFER = "libnvinfer.so.10";
    public static final String ONNX_PARSER = "libnvonnxparser.so.10";
    /** Standard places of TensorRT's Debian packages and tarball installs, searched after the library paths. */
    static final List<String> SYSTEM_DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/tensorrt/lib",
            "/usr/local/cuda/lib64");

    private static volatile String reason;
    private static volatile boolean probed;

    private TensorRTAvailability() { }

    /** What the probe looks at: where to search, and the two checks that need native code. */
    record Environment(List<Path> searchPath, Supplier<String> gpuUnavailable, Supplier<String> bindingsUnavailable) { }

    /** Null when the tensorrt backend can start; else why not (one line). */
    public static String unavailableReason() {
        if (!probed) {
            synchronized (TensorRTAvailability.class) {
                if (!probed) {
                    reason = Boolean.getBoolean("autodir.tensorrt.disable") ? "disabled by -Dautodir.tensorrt.disable=true"
                            : probe(new Environment(defaultSearchPath(), CudaAvailability::unavailableReason, TensorRTLibrary::loadProblem));
                    probed = true;
                }
            }
        }
        return reason;
    }

    static String probe(Environment env) {
        List<String> missing = new ArrayList<>();
        for (String lib : List.of(NVINFER, ONNX_PARSER)) {
            if (find(lib, env.searchPath()) == null) missing.add(lib + " not found");
        }
        String gpu = env.gpuUnavailable().get();
        if (gpu != null) missing.add("no GPU (" + gpu + ")");
        if (!missing.isEmpty()) {
            boolean libs = missing.stream().anyMatch(m -> m.startsWith("lib"));
            return String.join("; ", missing) + (libs ? " (searched LD_LIBRARY_PATH, java.library.path and " + String.join(", ", SYSTEM_DIRS)
                    + "; install TensorRT 10 (the bindings are built for 10.15) and put its lib folder on LD_LIBRARY_PATH)" : "");
        }
        return env.bindingsUnavailable().get();
    }

    /** The first {@code dir/name} that is a file, or null. */
    static Path find(String name, List<Path> dirs) {
        for (Path d : dirs) {
            Path f = d.resolve(name);
            if (Files.isRegularFile(f)) return f;
        }
        return null;
    }

    /** LD_LIBRARY_PATH, java.library.path, then {@link #SYSTEM_DIRS}, without repeats. */
    static List<Path> defaultSearchPath() {
        Set<String> dirs = new LinkedHashSet<>();
        for (String var : new String[] {System.getenv("LD_LIBRARY_PATH"), System.getProperty("java.library.path")}) {
            if (var == null) continue;
            for (String d : var.split(File.pathSeparator)) if (!d.isBlank()) dirs.add(d);
        }
        dirs.addAll(SYSTEM_DIRS);
        List<Path> out = new ArrayList<>();
        for (String d : dirs) out.add(Path.of(d));
        return out;
    }
}
