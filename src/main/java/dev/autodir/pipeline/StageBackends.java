package dev.autodir.pipeline;

import dev.autodir.backend.Ops;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Which backend runs each stage. Stages exchange host tensors, so any mix works
 * (e.g. {@code unet=cuda,vae=cuda,scm=cuda,clip=cpu}). Closing closes each distinct backend once.
 */
public record StageBackends(Ops clip, Ops vae, Ops unet, Ops scm) implements AutoCloseable {
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
}
