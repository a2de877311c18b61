package dev.autodir.backend;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.cuda.CudaAvailability;
import dev.autodir.backend.cuda.CudaOps;
import dev.autodir.backend.onnxruntime.OnnxRuntimeAvailability;
import dev.autodir.backend.onnxruntime.OnnxRuntimeOps;
import dev.autodir.pipeline.StageBackends;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.Map;

/**
 * Creates the backends a {@link BackendSpec} names, one instance per distinct backend. When the cuda backend
 * cannot start (no GPU, no driver, no CUDA libraries), or the onnxruntime backend (ONNX Runtime's native library does
 * not load), the stages that asked for it fall back to cpu, and the reason is printed, so a fallback is never silent.
 */
public final class Backends {
    private Backends() { }

    public static StageBackends create(BackendSpec spec, Precision precision, PrintStream notices) {
        Map<String, Ops> made = new HashMap<>();
        try {
            Ops clip = get(made, spec.clip(), precision, notices);
            Ops vae = get(made, spec.vae(), precision, notices);
            Ops unet = get(made, spec.unet(), precision, notices);
            Ops scm = get(made, spec.scm(), precision, notices);
            return new StageBackends(clip, vae, unet, scm);
        } catch (RuntimeException e) {
            made.values().forEach(Ops::close);
            throw e;
        }
    }

    private static Ops get(Map<String, Ops> made, String name, Precision precision, PrintStream notices) {
        Ops o = made.get(name);
        if (o != null) return o;
        if (name.equals("cuda")) {
            String why = CudaAvailability.unavailableReason();
            if (why == null) {
                o = new CudaOps(precision);
            } else {
                if (notices != null) notices.println("autodir: cuda backend unavailable (" + why + "); using cpu for those stages");
                o = made.computeIfAbsent("cpu", k -> new CpuOps());
            }
        } else if (name.equals("onnxruntime")) {
            String why = OnnxRuntimeAvailability.unavailableReason();
            if (why == null) {
                o = OnnxRuntimeOps.open(notices);
            } else {
                if (notices != null) notices.println("autodir: onnxruntime backend unavailable (" + why + "); using cpu for those stages");
                o = made.computeIfAbsent("cpu", k -> new CpuOps());
            }
        } else {
            o = new CpuOps();
        }
        made.put(name, o);
        return o;
    }
}
