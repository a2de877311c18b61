package dev.autodir.backend;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.cuda.CudaAvailability;
import dev.autodir.backend.cuda.CudaOps;
import dev.autodir.pipeline.StageBackends;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Creates the backends a {@link BackendSpec} names, one instance per distinct backend. When a backend cannot start
 * (cuda: no GPU, no driver, no CUDA libraries) the stages that asked for it fall back to cpu. What each stage got is
 * recorded in the {@link BackendReport} of the result, and a fallback is never silent: it is printed as a notice,
 * or, in strict mode, it is a {@link BackendException} naming the stage and the reason.
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
            Ops clip = get(made, unavailable, "clip", spec.clip(), precision, placements);
            Ops vae = get(made, unavailable, "vae", spec.vae(), precision, placements);
            Ops unet = get(made, unavailable, "unet", spec.unet(), precision, placements);
            Ops scm = get(made, unavailable, "scm", spec.scm(), precision, placements);
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
                           List<StagePlacement> placements) {
        Ops o = made.get(name);
        if (o == null && !unavailable.containsKey(name)) {
            String why = name.equals("cuda") ? CudaAvailability.unavailableReason() : null;
            if (why == null) {
                try {
                    o = name.equals("cuda") ? new CudaOps(precision) : new CpuOps();
                } catch (RuntimeException e) {
                    if (name.equals("cpu")) throw e;
                    why = "it failed to start: " + e.getMessage();
                }
            }
            if (o != null) made.put(name, o);
            else unavailable.put(name, why);
        }
        if (o != null) {
            placements.add(new StagePlacement(stage, name, name, o.precision(), null));
            return o;
        }
        Ops cpu = made.computeIfAbsent("cpu", k -> new CpuOps());
        placements.add(new StagePlacement(stage, name, cpu.name(), cpu.precision(), unavailable.get(name)));
        return cpu;
    }
}
