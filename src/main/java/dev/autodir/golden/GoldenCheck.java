package dev.autodir.golden;

import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs every case of a {@link GoldenSet} that the engine knows and compares each output with the fixture:
 * float tensors by relative L2 error against the manifest's tolerance, integer tensors exactly, uint8 images within 1.
 * Cases it cannot run are listed as NOT RUN, never skipped silently; an output the engine produces that the manifest
 * does not list is reported as EXTRA (not a failure).
 *
 * <p>At reduced precision (a tolerance floor, e.g. 2e-3 for FP16) the network cases run first and are judged against
 * the floor; their measured errors then give the chained and derived outputs (sampler, assessment, pipeline) their
 * tolerances ({@link ReducedPrecisionTolerance} says how), so those are gated too.
 */
public final class GoldenCheck {

    public enum Status { PASS, FAIL, NOT_RUN, INFO, EXTRA }

    /** The engine's side of the cases ({@link GoldenCases}; tests substitute others). */
    public interface Runner {
        boolean knows(String caseName);

        /** The outputs of one case under the manifest's names (FloatTensor for floats, long[] for integers). */
        Map<String, Object> run(GoldenSet.CaseSpec spec, WeightStore inputs);

        /** exp(logit_scale) of the model's CLIP (for the derived tolerances of CLIP scores). */
        double logitScale();
    }

    /** One line of the report. */
    public record Row(String caseName, String tensor, String metric, double value, double tolerance, Status status, String note) { }

    /** The whole report. */
    public record Report(List<Row> rows) {
        public long count(Status s) { return rows.stream().filter(r -> r.status == s).count(); }

        public boolean passed() { return count(Status.FAIL) == 0; }
    }

    private final GoldenSet set;
    private final Runner cases;
    private final double toleranceFloor;

    /**
     * @param toleranceFloor the least rel-L2 tolerance of a network's output (0: the manifest's own; e.g. 2e-3 for
     *                       fp16, which also derives the chained outputs' tolerances)
     */
    public GoldenCheck(GoldenSet set, Runner cases, double toleranceFloor) {
        this.set = set;
        this.cases = cases;
        this.toleranceFloor = toleranceFloor;
    }

    public Report run(PrintStream out) {
        List<Row> rows = new ArrayList<>();
        out.printf(Locale.ROOT, "%-22s %-40s %-8s %10s %10s  %s%n", "case", "tensor", "metric", "value", "tolerance", "result");
        boolean reduced = toleranceFloor > 0;
        List<GoldenSet.CaseSpec> order = new ArrayList<>(set.cases());
        ReducedPrecisionTolerance derived = null;
        if (reduced) {
            // the networks first: their errors give the chained outputs their tolerances
            order.sort(java.util.Comparator.comparingInt(c -> isNetworkCase(c) ? 0 : 1));
            derived = new ReducedPrecisionTolerance(toleranceFloor, knownLogitScale());
        }
        for (GoldenSet.CaseSpec c : order) {
            if (!cases.knows(c.name())) {
                emit(out, rows, new Row(c.name(), "", "", Double.NaN, Double.NaN, Status.NOT_RUN, "no runner for this case"));
                continue;
            }
            long t0 = System.nanoTime();
            try (WeightStore file = WeightStore.open(c.file())) {
                Map<String, Object> produced;
                try {
                    produced = cases.run(c, file);
                } catch (RuntimeException e) {
                    emit(out, rows, new Row(c.name(), "", "", Double.NaN, Double.NaN, Status.FAIL, "error: " + describe(e)));
                    continue;
                }
                for (GoldenSet.TensorSpec spec : c.outputs()) {
                    double manifest = Double.isNaN(spec.relL2()) ? 1e-5 : spec.relL2();
                    Row r;
                    if (!reduced) {
                        r = compare(c.name(), spec, produced.get(spec.name()), file, manifest, "");
                    } else {
                        ReducedPrecisionTolerance.Network n = ReducedPrecisionTolerance.networkOf(c.name(), spec.name());
                        double tol = n != null ? Math.max(manifest, toleranceFloor) : derived.tolerance(c.name(), spec.name(), c.info());
                        String note = n != null ? "" : tol == ReducedPrecisionTolerance.HOST ? "host float32" : "derived from the networks' errors";
                        boolean tie = derived.nearTie(c.name(), spec.name(), c.info());
                        boolean report = tie || Double.isNaN(tol) && !spec.dtype().toUpperCase(Locale.ROOT).startsWith("I");
                        r = compare(c.name(), spec, produced.get(spec.name()), file,
                                Double.isNaN(tol) || tol == ReducedPrecisionTolerance.HOST ? manifest : Math.max(manifest, tol), isFloat(spec) ? note : "");
                        if (n != null && r.status != Status.NOT_RUN) derived.record(n, r.value);
                        if (report && r.status != Status.NOT_RUN) {
                            r = new Row(r.caseName, r.tensor, r.metric, r.value, r.tolerance, Status.INFO,
                                    tie ? "reduced precision: decided by a near-tie argmax, reported, not gated"
                                            : "reduced precision: reported, not gated (its float source is gated)");
                        }
                    }
                    emit(out, rows, r);
                }
                for (String extra : produced.keySet()) {
                    if (!c.tensors().containsKey(extra)) {
                        emit(out, rows, new Row(c.name(), extra, "", Double.NaN, Double.NaN, Status.EXTRA, "produced, not in the manifest"));
                    }
                }
            }
            out.printf(Locale.ROOT, "%-22s %-40s (%.1f s)%n", "", "", (System.nanoTime() - t0) / 1e9);
        }
        Report r = new Report(rows);
        out.printf(Locale.ROOT, "%d passed, %d failed, %d not run%s%s%n", r.count(Status.PASS), r.count(Status.FAIL), r.count(Status.NOT_RUN),
                r.count(Status.INFO) == 0 ? "" : ", " + r.count(Status.INFO) + " reported (not gated at reduced precision)",
                r.count(Status.EXTRA) == 0 ? "" : ", " + r.count(Status.EXTRA) + " extra (produced, not in the manifest)");
        if (reduced) {
            StringBuilder e = new StringBuilder("per-network errors behind the derived tolerances:");
            for (ReducedPrecisionTolerance.Network n : ReducedPrecisionTolerance.Network.values()) {
                e.append(String.format(Locale.ROOT, " %s %.3g%s", n.name().toLowerCase(Locale.ROOT), derived.error(n),
                        derived.measured(n) ? "" : " (not measured: the floor)"));
            }
            out.println(e);
        }
        return r;
    }

    private static boolean isNetworkCase(GoldenSet.CaseSpec c) {
        for (GoldenSet.TensorSpec t : c.outputs()) if (ReducedPrecisionTolerance.networkOf(c.name(), t.name()) != null) return true;
        return false;
    }

    private static boolean isFloat(GoldenSet.TensorSpec spec) { return spec.dtype().toUpperCase(Locale.ROOT).startsWith("F"); }

    private double knownLogitScale() {
        try {
            return cases.logitScale();
        } catch (RuntimeException e) {
            return 100;                                                      // CLIP's trained exp(logit_scale)
        }
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    private static void emit(PrintStream out, List<Row> rows, Row r) {
        rows.add(r);
        String value = Double.isNaN(r.value) ? "" : String.format(Locale.ROOT, "%.3g", r.value);
        String tol = Double.isNaN(r.tolerance) ? "" : String.format(Locale.ROOT, "%.3g", r.tolerance);
        out.printf(Locale.ROOT, "%-22s %-40s %-8s %10s %10s  %s%s%n", r.caseName, r.tensor, r.metric, value, tol,
                r.status == Status.NOT_RUN ? "NOT RUN" : r.status.name(), r.note.isEmpty() ? "" : "  (" + r.note + ")");
    }

    private Row compare(String caseName, GoldenSet.TensorSpec spec, Object got, WeightStore file, double tol, String note) {
        if (got == null) return new Row(caseName, spec.name(), "", Double.NaN, Double.NaN, Status.FAIL, "not produced");
        String dtype = spec.dtype().toUpperCase(Locale.ROOT);
        if (dtype.startsWith("F")) {
            FloatTensor ref = file.readFloat(spec.name());
            if (!(got instanceof FloatTensor g)) return new Row(caseName, spec.name(), "", Double.NaN, Double.NaN, Status.FAIL, "produced a non-float value");
            if (g.numel() != ref.numel()) {
                return new Row(caseName, spec.name(), "", Double.NaN, Double.NaN, Status.FAIL,
                        "shape " + Arrays.toString(g.shape()) + " vs expected " + Arrays.toString(spec.shape()));
            }
            double e = g.relL2(ref);
            return new Row(caseName, spec.name(), "rel-L2", e, tol, e <= tol ? Status.PASS : Status.FAIL, note);
        }
        long[] ref = file.readLong(spec.name());
        long[] g = got instanceof long[] l ? l : null;
        if (g == null) return new Row(caseName, spec.name(), "", Double.NaN, Double.NaN, Status.FAIL, "produced a non-integer value");
        if (g.length != ref.length) {
            return new Row(caseName, spec.name(), "", Double.NaN, Double.NaN, Status.FAIL, g.length + " values vs " + ref.length + " expected");
        }
        long worst = 0;
        int mismatches = 0;
        for (int i = 0; i < g.length; i++) {
            long d = Math.abs(g[i] - ref[i]);
            if (d != 0) mismatches++;
            worst = Math.max(worst, d);
        }
        boolean image = dtype.equals("U8");
        double levels = image ? (Double.isNaN(spec.maxAbs()) ? 1 : spec.maxAbs()) : 0;
        String differ = mismatches == 0 ? "" : mismatches + " of " + g.length + " differ";
        return new Row(caseName, spec.name(), image ? "max-abs" : "exact", worst, levels, worst <= levels ? Status.PASS : Status.FAIL, differ);
    }
}
