package dev.autodir.backend;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.cuda.CudaAvailability;
import dev.autodir.backend.cuda.CudaOps;
import dev.autodir.backend.tensorrt.TensorRTAvailability;
import dev.autodir.backend.tensorrt.TensorRTOps;
import dev.autodir.backend.tensorrt.TensorRTSettings;
import dev.autodir.pipeline.StageBackends;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.Map;

/**
 * Creates the backends a {@link BackendSpec} names, one instance per distinct backend. When the cuda backend
 * cannot start (no GPU, no driver, no CUDA libraries) the stages that asked for it fall back to cpu, and the
 * reason is printed, so a fallback is never silent. A tensorrt stage that cannot start (no TensorRT libraries, no
 * GPU) falls back to cuda, and from there to cpu, with a notice for each step.
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
        if (name.equals("tensorrt")) {
            String why = TensorRTAvailability.unavailableReason();
            if (why == null) {
                o = TensorRTOps.open(precision, TensorRTSettings.fromProperties(), notices);
            } else {
                if (notices != null) notices.println("autodir: tensorrt backend unavailable (" + why + "); using cuda for those stages");
                o = get(made, "cuda", precision, notices);
            }
        } else if (name.equals("cuda")) {
            String why = CudaAvailability.unavailableReason();
            if (why == null) {
                o = new CudaOps(precision);
            } else {
                if (notices != null) notices.println("autodir: cuda backend unavailable (" + why + "); using cpu for those stages");
                o = made.computeIfAbsent("cpu", k -> new CpuOps());
            }
        } else {
            o = new CpuOps();
        }
        made.put(name, o);
        return o;
    }
}
