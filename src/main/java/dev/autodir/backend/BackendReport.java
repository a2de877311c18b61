package dev.autodir.backend;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which backend and precision each stage really got, for reports: the requested precision and one
 * {@link StagePlacement} per stage, in the order clip, vae, unet, scm.
 *
 * <p>The rule, the same for every backend: a stage whose backend cannot start runs on cpu instead (a fallback,
 * with its reason); the requested precision applies to the stages whose backend offers it (the cpu backend
 * computes in fp32 only). {@link #problems()} lists what did not go as asked: each fallback, and a precision
 * that no stage got. Strict mode turns the first problem into a {@link BackendException}; otherwise each is a
 * notice.
 *
 * @param requestedPrecision the precision asked for
 * @param strict             whether a problem was an error (then there are none here)
 * @param stages             clip, vae, unet, scm
 */
public record BackendReport(Precision requestedPrecision, boolean strict, List<StagePlacement> stages) {
    public BackendReport {
        stages = List.copyOf(stages);
    }

    /** "clip=cpu,vae=cuda,unet=cuda,scm=cuda" (the backends that run the stages). */
    public String backends() {
        List<String> parts = new ArrayList<>();
        for (StagePlacement s : stages) parts.add(s.stage() + "=" + s.backend());
        return String.join(",", parts);
    }

    /** "fp16" when every stage computes in one precision, else per stage: "clip=fp32,vae=fp16,unet=fp16,scm=fp16". */
    public String precisions() {
        Map<Precision, Boolean> distinct = new LinkedHashMap<>();
        List<String> parts = new ArrayList<>();
        for (StagePlacement s : stages) {
            distinct.put(s.precision(), Boolean.TRUE);
            parts.add(s.stage() + "=" + s.precision().lower());
        }
        return distinct.size() == 1 ? distinct.keySet().iterator().next().lower() : String.join(",", parts);
    }

    /** The placement of one stage (clip, vae, unet, scm). */
    public StagePlacement stage(String name) {
        for (StagePlacement s : stages) if (s.stage().equals(name)) return s;
        throw new IllegalArgumentException("no stage \"" + name + "\" (stages: clip, vae, unet, scm)");
    }

    /**
     * Something that did not go as asked.
     *
     * @param message     what and why, e.g. "cuda backend unavailable for stages vae, unet (no CUDA device)"
     * @param consequence what runs instead (empty when nothing changes), e.g. "they run on cpu in fp32"
     */
    public record Problem(String message, String consequence) {
        /** The notice printed when fallback is allowed. */
        public String notice() { return consequence.isEmpty() ? message : message + "; " + consequence; }
    }

    /**
     * What did not go as asked: every backend that fell back (naming its stages), and the requested precision when no
     * stage got it.
     */
    public List<Problem> problems() {
        Map<String, List<StagePlacement>> fallbacks = new LinkedHashMap<>();   // requested backend and reason -> stages
        boolean precisionUsed = false;
        for (StagePlacement s : stages) {
            if (s.fellBack()) fallbacks.computeIfAbsent(s.requested() + "\0" + s.reason(), k -> new ArrayList<>()).add(s);
            if (s.precision() == requestedPrecision) precisionUsed = true;
        }
        List<Problem> out = new ArrayList<>();
        for (List<StagePlacement> group : fallbacks.values()) {
            StagePlacement first = group.get(0);
            List<String> names = new ArrayList<>();
            for (StagePlacement s : group) names.add(s.stage());
            boolean one = names.size() == 1;
            out.add(new Problem(first.requested() + " backend unavailable for " + (one ? "stage " : "stages ") + String.join(", ", names)
                    + " (" + first.reason() + ")", (one ? "it runs" : "they run") + " on " + first.backend() + " in " + first.precision().lower()));
        }
        if (!precisionUsed) {
            out.add(new Problem("precision " + requestedPrecision.lower() + " was asked for, but no stage runs on a backend that offers it ("
                    + backends() + "; the cpu backend computes in fp32 only)", ""));
        }
        return out;
    }
}
