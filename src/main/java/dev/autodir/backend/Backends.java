package dev.autodir.backend;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.cuda.CudaAvailability;
import dev.autodir.backend.cuda.CudaOps;
import dev.autodir.backend.onnxruntime.OnnxRuntimeAvailability;
import dev.autodir.backend.onnxruntime.OnnxRuntimeOps;
import dev.autodir.backend.tensorrt.EngineRecipes;
import dev.autodir.backend.tensorrt.TensorRTAvailability;
import dev.autodir.backend.tensorrt.TensorRTOps;
import dev.autodir.backend.tensorrt.TensorRTSettings;
import dev.autodir.pipeline.StageBackends;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Creates the backends a {@link BackendSpec} names, one instance per distinct backend. When a backend cannot start
 * (cuda: no GPU, no driver, no CUDA libraries; onnxruntime: its native library does not load) the stages that asked
 * for it fall back to cpu. What each stage got is recorded in the {@link BackendReport} of the result, and a
 * fallback is never silent: it is printed as a notice, or, in strict mode, it is a {@link BackendException} naming
 * the stage and the reason. A tensorrt stage falls back
 * to cuda when TensorRT cannot start, and to cpu when cuda cannot either (the reason then names both).
 */
public final class Backends {
    private Backends() { }

    public static StageBackends create(BackendSpec spec, Precision precision, PrintStream notices) {
        return create(spec, precision, false, notices);
    }

    /**
     * @param strict fail with a {@link BackendException} instead of falling back (or of ignoring a precision that
     *               no stage's backend offers)
     */
    public static StageBackends create(BackendSpec spec, Precision precision, boolean strict, PrintStream notices) {
        Map<String, Ops> made = new HashMap<>();
        Map<String, String> unavailable = new HashMap<>();   // backend name -> why it cannot start
        List<StagePlacement> placements = new ArrayList<>();
        try {
            Ops clip = get(made, unavailable, "clip", spec.clip(), precision, placements, notices);
            Ops vae = get(made, unavailable, "vae", spec.vae(), precision, placements, notices);
            Ops unet = get(made, unavailable, "unet", spec.unet(), precision, placements, notices);
            Ops scm = get(made, unavailable, "scm", spec.scm(), precision, placements, notices);
            BackendReport report = new BackendReport(precision, strict, placements);
            List<BackendReport.Problem> problems = report.problems();
            if (strict && !problems.isEmpty()) throw new BackendException("strict backend, no fallback: " + problems.get(0).message());
            if (notices != null) for (BackendReport.Problem p : problems) notices.println("autodir: " + p.notice());
            return new StageBackends(clip, vae, unet, scm, report);
        } catch (RuntimeException e) {
            made.values().forEach(Ops::close);
            throw e;
        }
    }

    private static Ops get(Map<String, Ops> made, Map<String, String> unavailable, String stage, String name, Precision precision,
                           List<StagePlacement> placements, PrintStream notices) {
        Ops o = start(made, unavailable, name, precision, notices);
        if (o != null) {
            placements.add(new StagePlacement(stage, name, name, o.precision(), null));
            return o;
        }
        String reason = unavailable.get(name);
        Ops instead = null;
        if (name.equals("tensorrt")) {
            instead = start(made, unavailable, "cuda", precision, notices);
            if (instead == null) reason += "; cuda backend unavailable too (" + unavailable.get("cuda") + ")";
        }
        if (instead == null) instead = start(made, unavailable, "cpu", precision, notices);
        placements.add(new StagePlacement(stage, name, instead.name(), instead.precision(), reason));
        return instead;
    }

    /** The backend {@code name}, started once; null (and the reason in {@code unavailable}) when it cannot start. */
    private static Ops start(Map<String, Ops> made, Map<String, String> unavailable, String name, Precision precision, PrintStream notices) {
        Ops o = made.get(name);
        if (o != null || unavailable.containsKey(name)) return o;
        String why = switch (name) {
            case "cuda" -> CudaAvailability.unavailableReason();
            case "tensorrt" -> TensorRTAvailability.unavailableReason();
            case "onnxruntime" -> OnnxRuntimeAvailability.unavailableReason();
            default -> null;
        };
        // a bad TensorRT setting or recipes file is the user's to fix, not a reason to fall back: it throws here
        TensorRTSettings trt = name.equals("tensorrt") ? TensorRTSettings.fromProperties() : null;
        EngineRecipes recipes = trt != null ? trt.loadRecipes() : null;
        if (why == null) {
            try {
                o = switch (name) {
                    case "cuda" -> new CudaOps(precision);
                    case "tensorrt" -> TensorRTOps.open(precision, trt, recipes, notices);
                    case "onnxruntime" -> OnnxRuntimeOps.open(notices);
                    default -> new CpuOps();
                };
            } catch (RuntimeException e) {
                if (name.equals("cpu")) throw e;
                why = "it failed to start: " + e.getMessage();
            }
        }
        if (o != null) made.put(name, o);
        else unavailable.put(name, why);
        return o;
    }
}
