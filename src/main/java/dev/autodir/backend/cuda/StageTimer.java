package dev.autodir.backend.cuda;

import org.bytedeco.cuda.cudart.CUevent_st;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDefault;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventElapsedTime;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaEventSynchronize;

/**
 * Per-stage GPU time from CUDA events recorded on the backend's stream: {@code try (var s = timer.stage("unet")) {...}}
 * records an event before and after the stage's work; {@link #collect()} waits for the events and returns,
 * per stage name, every measured duration. Recording costs no synchronisation; reading does.
 */
public final class StageTimer implements AutoCloseable {
    /** The durations of one stage name, in milliseconds, in recording order. */
    public record Stats(String name, List<Double> millis) {
        public double total() { return millis.stream().mapToDouble(Double::doubleValue).sum(); }

        public double median() {
            if (millis.isEmpty()) return Double.NaN;
            List<Double> s = new ArrayList<>(millis);
            Collections.sort(s);
            int n = s.size();
            return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
        }

        public double min() { return millis.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN); }
    }

    private record Pending(String name, CUevent_st start, CUevent_st end) { }

    private final CudaOps ops;
    private final Deque<CUevent_st> pool = new ArrayDeque<>();
    private final List<CUevent_st> all = new ArrayList<>();
    private final List<Pending> pending = new ArrayList<>();
    private final Map<String, List<Double>> results = new LinkedHashMap<>();
    private boolean closed;

    StageTimer(CudaOps ops) {
        this.ops = ops;
    }

    /** A scope timing the work enqueued between now and its close. */
    public Scope stage(String name) {
        if (closed) throw new IllegalStateException("stage timer is closed");
        ops.enter("StageTimer.stage");
        CUevent_st start = event();
        CudaCheck.rt(cudaEventRecord(start, ops.stream()), "cudaEventRecord(" + name + " start)");
        return new Scope(name, start);
    }

    public final class Scope implements AutoCloseable {
        private final String name;
        private final CUevent_st start;
        private boolean ended;

        private Scope(String name, CUevent_st start) {
            this.name = name;
            this.start = start;
        }

        @Override
        public void close() {
            if (ended) return;
            ended = true;
            CUevent_st end = event();
            CudaCheck.rt(cudaEventRecord(end, ops.stream()), "cudaEventRecord(" + name + " end)");
            pending.add(new Pending(name, start, end));
        }
    }

    /** Waits for every recorded stage and returns all durations so far, per stage name in first-seen order. */
    public Map<String, Stats> collect() {
        ops.enter("StageTimer.collect");
        for (Pending p : pending) {
            CudaCheck.rt(cudaEventSynchronize(p.end()), "cudaEventSynchronize(" + p.name() + ")");
            float[] ms = new float[1];
            CudaCheck.rt(cudaEventElapsedTime(ms, p.start(), p.end()), "cudaEventElapsedTime(" + p.name() + ")");
            results.computeIfAbsent(p.name(), k -> new ArrayList<>()).add((double) ms[0]);
            pool.push(p.start());
            pool.push(p.end());
        }
        pending.clear();
        Map<String, Stats> out = new LinkedHashMap<>();
        results.forEach((k, v) -> out.put(k, new Stats(k, List.copyOf(v))));
        return out;
    }

    /** One line per stage: count, median, min and total milliseconds. */
    public String report() {
        StringBuilder s = new StringBuilder();
        for (Stats st : collect().values()) {
            s.append(String.format(Locale.ROOT, "%-28s n=%-4d median %9.3f ms  min %9.3f ms  total %10.3f ms%n",
                    st.name(), st.millis().size(), st.median(), st.min(), st.total()));
        }
        return s.toString();
    }

    /** Forgets the collected durations (events stay pooled). */
    public void reset() {
        collect();
        results.clear();
    }

    private CUevent_st event() {
        if (!pool.isEmpty()) return pool.pop();
        CUevent_st e = new CUevent_st();
        CudaCheck.rt(cudaEventCreateWithFlags(e, cudaEventDefault), "cudaEventCreateWithFlags");
        all.add(e);
        return e;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException first = null;
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                CudaCheck.rt(cudaEventDestroy(all.get(i)), "cudaEventDestroy");
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        all.clear();
        pool.clear();
        pending.clear();
        ops.timerClosed(this);
        if (first != null) throw first;
    }
}
