package dev.autodir.pipeline;

import dev.autodir.backend.BackendReport;
import dev.autodir.backend.Ops;
import dev.autodir.backend.StagePlacement;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which backend runs each stage. Stages exchange host tensors, so any mix works
 * (e.g. {@code unet=cuda,vae=cuda,scm=cuda,clip=cpu}). Closing closes each distinct backend once.
 *
 * @param report what each stage was asked to run on and what it really runs on, at which precision
 */
public record StageBackends(Ops clip, Ops vae, Ops unet, Ops scm, BackendReport report) implements AutoCloseable {
    /** Backends chosen directly (no fallback): each stage ran as requested, at its backend's precision. */
    public StageBackends(Ops clip, Ops vae, Ops unet, Ops scm) {
        this(clip, vae, unet, scm, new BackendReport(unet.precision(), false, List.of(StagePlacement.asRequested("clip", clip),
                StagePlacement.asRequested("vae", vae), StagePlacement.asRequested("unet", unet), StagePlacement.asRequested("scm", scm))));
    }

    public static StageBackends all(Ops ops) { return new StageBackends(ops, ops, ops, ops); }

    @Override public void close() {
        Map<Ops, Boolean> seen = new IdentityHashMap<>();
        for (Ops o : new Ops[] {scm, unet, vae, clip}) {
            if (o != null && seen.put(o, Boolean.TRUE) == null) o.close();
        }
    }

    public String describe() {
        return "clip=" + clip.name() + ",vae=" + vae.name() + ",unet=" + unet.name() + ",scm=" + scm.name();
    }

    /** Each distinct backend once, in the order clip, vae, unet, scm. */
    public List<Ops> distinct() {
        Map<Ops, Boolean> seen = new IdentityHashMap<>();
        List<Ops> out = new java.util.ArrayList<>();
        for (Ops o : new Ops[] {clip, vae, unet, scm}) if (seen.put(o, Boolean.TRUE) == null) out.add(o);
        return out;
    }
}
