package dev.autodir.pipeline;

/** Receives a restoration's {@link ProgressEvent}s, on the restoring thread; keep it quick. */
@FunctionalInterface
public interface ProgressListener {
    void onProgress(ProgressEvent event);
}
