package dev.autodir.backend;

import java.util.Locale;

/**
 * Where one pipeline stage really runs, next to what was asked for it.
 *
 * @param stage     clip, vae, unet or scm
 * @param requested the backend asked for (from {@link BackendSpec})
 * @param backend   the backend that runs the stage
 * @param precision the storage precision that backend computes the stage in
 * @param reason    why {@code backend} differs from {@code requested} (it fell back), or null when it does not
 */
public record StagePlacement(String stage, String requested, String backend, Precision precision, String reason) {
    public StagePlacement {
        if (stage == null || requested == null || backend == null || precision == null) {
            throw new IllegalArgumentException("stage, requested, backend and precision are required");
        }
        if (requested.equals(backend) != (reason == null)) {
            throw new IllegalArgumentException(stage + ": a reason is given exactly when the backend differs from the requested one ("
                    + requested + " requested, " + backend + " used, reason " + reason + ")");
        }
    }

    /** The stage runs as asked. */
    public static StagePlacement asRequested(String stage, Ops ops) {
        return new StagePlacement(stage, ops.name(), ops.name(), ops.precision(), null);
    }

    /** The stage runs on another backend than the one asked for. */
    public boolean fellBack() { return reason != null; }

    /** "unet=cuda fp16", or "unet=cpu fp32 (cuda requested: why)". */
    @Override public String toString() {
        return stage + "=" + backend + " " + precision.name().toLowerCase(Locale.ROOT)
                + (fellBack() ? " (" + requested + " requested: " + reason + ")" : "");
    }
}
