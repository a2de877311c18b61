package dev.autodir.backend.cuda;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.javacpp.BytePointer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.cuda.global.cudart.cuFuncSetAttribute;
import static org.bytedeco.cuda.global.cudart.cuModuleGetFunction;
import static org.bytedeco.cuda.global.cudart.cuModuleLoadData;
import static org.bytedeco.cuda.global.cudart.cuModuleUnload;

/**
 * The kernel modules, loaded on first use: {@code /dev/autodir/cuda/NAME.fatbin} from the classpath (built
 * by nvcc at package time: sm_90 SASS plus compute_90 PTX), or, when that resource is missing or the driver
 * cannot load it (another GPU generation, a PTX too new), the source {@code NAME.cu} compiled by NVRTC for
 * the device's own architecture. The system property {@code autodir.cuda.nvrtc=true} forces NVRTC (the
 * device check runs the kernel tests both ways).
 */
final class KernelLibrary implements AutoCloseable {
    static final String RESOURCE_DIR = "/dev/autodir/cuda/";
    static final String[] HEADERS = {"common.cuh"};
    /** CUDA_ERROR_NO_BINARY_FOR_GPU, CUDA_ERROR_INVALID_PTX, CUDA_ERROR_UNSUPPORTED_PTX_VERSION, CUDA_ERROR_INVALID_IMAGE. */
    private static final int[] FALLBACK_ERRORS = {209, 218, 222, 200};
    private static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    private final int ccMajor;
    private final int ccMinor;
    private final boolean forceNvrtc;
    private final Map<String, CUmod_st> modules = new LinkedHashMap<>();
    private final Map<String, String> moduleOrigin = new LinkedHashMap<>();
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    private final Map<String, Integer> dynamicSmemLimit = new HashMap<>();

    KernelLibrary(int ccMajor, int ccMinor, boolean forceNvrtc) {
        this.ccMajor = ccMajor;
        this.ccMinor = ccMinor;
        this.forceNvrtc = forceNvrtc;
    }

    CUfunc_st function(Kernel k) {
        CUfunc_st f = functions.get(k.function());
        if (f != null) return f;
        CUmod_st module = module(k.file());
        f = new CUfunc_st();
        CudaCheck.drv(cuModuleGetFunction(f, module, k.function()), "cuModuleGetFunction(" + k.file() + ".cu: " + k.function() + ")");
        functions.put(k.function(), f);
        return f;
    }

    /** Raises the dynamic shared-memory limit of {@code k} to at least {@code bytes} (needed above 48 KB). */
    void ensureDynamicSharedMemory(Kernel k, CUfunc_st f, int bytes) {
        if (bytes <= 48 * 1024) return;
        Integer current = dynamicSmemLimit.get(k.function());
        if (current != null && current >= bytes) return;
        CudaCheck.drv(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                "cuFuncSetAttribute(" + k.function() + ", MAX_DYNAMIC_SHARED_SIZE_BYTES, " + bytes + ")");
        dynamicSmemLimit.put(k.function(), bytes);
    }

    /** "file: fatbin" / "file: nvrtc sm_90" for each module loaded so far (for reports). */
    Map<String, String> origins() { return Map.copyOf(moduleOrigin); }

    private CUmod_st module(String file) {
        CUmod_st m = modules.get(file);
        if (m != null) return m;
        byte[] fatbin = forceNvrtc ? null : readResource(RESOURCE_DIR + file + ".fatbin");
        if (fatbin != null) {
            m = new CUmod_st();
            int rc;
            try (BytePointer image = new BytePointer(fatbin)) {
                rc = cuModuleLoadData(m, image);
            }
            if (rc == 0) {
                modules.put(file, m);
                moduleOrigin.put(file, "fatbin");
                return m;
            }
            if (!isFallbackError(rc)) CudaCheck.drv(rc, "cuModuleLoadData(" + file + ".fatbin)");
        }
        byte[] cubin = compile(file);
        m = new CUmod_st();
        try (BytePointer image = new BytePointer(cubin)) {
            CudaCheck.drv(cuModuleLoadData(m, image), "cuModuleLoadData(" + file + " cubin from NVRTC)");
        }
        modules.put(file, m);
        moduleOrigin.put(file, "nvrtc sm_" + ccMajor + ccMinor);
        return m;
    }

    private byte[] compile(String file) {
        String source = readText(RESOURCE_DIR + file + ".cu");
        if (source == null) {
            throw new CudaException("kernel " + file + ": neither " + RESOURCE_DIR + file + ".fatbin nor "
                    + RESOURCE_DIR + file + ".cu is on the classpath (were the cuda/ sources packaged?)");
        }
        List<String> headerSources = new ArrayList<>();
        for (String h : HEADERS) {
            String text = readText(RESOURCE_DIR + h);
            if (text == null) throw new CudaException("kernel header " + RESOURCE_DIR + h + " is not on the classpath");
            headerSources.add(text);
        }
        return Nvrtc.compileToCubin(file + ".cu", source, HEADERS, headerSources.toArray(new String[0]), ccMajor, ccMinor);
    }

    private static boolean isFallbackError(int rc) {
        for (int e : FALLBACK_ERRORS) if (e == rc) return true;
        return false;
    }

    static byte[] readResource(String path) {
        try (InputStream in = KernelLibrary.class.getResourceAsStream(path)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading resource " + path, e);
        }
    }

    static String readText(String path) {
        byte[] b = readResource(path);
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        functions.clear();
        List<String> files = new ArrayList<>(modules.keySet());
        RuntimeException first = null;
        for (int i = files.size() - 1; i >= 0; i--) {
            try {
                CudaCheck.drv(cuModuleUnload(modules.get(files.get(i))), "cuModuleUnload(" + files.get(i) + ")");
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        modules.clear();
        if (first != null) throw first;
    }
}
