package dev.autodir.backend.cuda;

import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDefault;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventElapsedTime;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaEventSynchronize;

/**
 * Chooses, per convolution shape, between cuDNN's legacy plan (the reference, always present) and the candidates
 * offered for it: the im2col + cuBLASLt path ({@link Features#convIm2col}) and cuDNN's graph API
 * ({@link Features#convGraph}), each optional. The first time a shape runs outside a CUDA graph capture, each offered
 * candidate is planned (its supplier called), warmed up once and, with a {@link Comparison}, compared with the
 * reference's result: one whose relative L2 distance exceeds {@link #AGREEMENT} (or is NaN) is excluded, so a wrong
 * fast path cannot win on speed. The survivors are then timed alternately with the reference ({@link #RUNS} rounds of
 * reference, candidate, candidate, ...); the lowest median wins (the reference on ties), is remembered and used from
 * then on, also inside captures. A candidate that throws while being planned, compared or timed is excluded with a
 * WARNING and the others carry on. A shape first seen inside a capture (no timing is possible there) runs the
 * reference and is not remembered, so its next eager use times it. A remembered candidate that is not offered on a
 * later call (an unaligned view, say) gives way to the reference for that call.
 *
 * <p>The device work comes in as {@link Runnable}s and the timing through a {@link Clock} (CUDA events on the
 * device: {@link EventClock}), so the bookkeeping is tested without a GPU. Neither candidate has run on a GPU yet.
 */
final class ConvAutotune {
    private static final System.Logger LOG = System.getLogger(ConvAutotune.class.getName());

    static final int WARMUPS = 1;
    static final int RUNS = 3;
    /** Largest relative L2 distance between a candidate's FP16 result and the reference's that counts as the same convolution. */
    static final double AGREEMENT = 1e-2;

    /** The relative L2 distance of candidate's result from reference's (each run leaves its result in the output). */
    interface Comparison {
        double distance(Runnable reference, Runnable candidate);
    }

    /** The paths: CUDNN is the reference (cuDNN's legacy API), the others candidates. */
    enum Choice {
        CUDNN("cuDNN"), IM2COL("im2col"), GRAPH("cuDNN-graph");

        private final String label;

        Choice(String label) { this.label = label; }

        /** The name used in {@link #describe()} and the log. */
        String label() { return label; }
    }

    /**
     * What a shape uses, the median milliseconds of every timed path (reference first, then the candidates in
     * {@link Choice} order; empty when nothing was timed) and why candidates were excluded ("" when none was).
     */
    record Decision(Choice choice, Map<Choice, Double> millis, String note) {
        Decision {
            EnumMap<Choice, Double> copy = new EnumMap<>(Choice.class);
            copy.putAll(millis);
            millis = Collections.unmodifiableMap(copy);
        }

        /** The median milliseconds of {@code c}, NaN when it was not timed. */
        double millis(Choice c) {
            Double m = millis.get(c);
            return m == null ? Double.NaN : m;
        }
    }

    /** Times device work: the milliseconds between just before and just after {@code body}'s enqueued work. */
    interface Clock extends AutoCloseable {
        double millis(Runnable body);

        @Override
        void close();
    }

    private final Map<Convolution.Key, Decision> decisions = new LinkedHashMap<>();
    private Choice forced;

    /** Every shape uses {@code choice}, untimed (null: time and choose again); for tests. */
    void force(Choice choice) { forced = choice; }

    Choice forced() { return forced; }

    /** The remembered decision for {@code key}, or null. */
    Decision decision(Convolution.Key key) { return decisions.get(key); }

    /**
     * Runs the convolution {@code key} through the path chosen for it (deciding first when the shape is new and
     * {@code capturing} is false) and returns the path whose result is left in the output.
     *
     * @param comparison null: candidates are not compared with the reference before timing
     * @param reference  cuDNN's legacy convolution
     * @param candidates the candidates offered for this call: each supplier plans its path (it may throw) and returns
     *                   the body that runs it; a choice absent (or mapped to null) is not offered
     * @throws IllegalStateException when the forced choice is a candidate that is not offered
     */
    Choice run(Convolution.Key key, boolean capturing, Supplier<? extends Clock> clocks, Comparison comparison, Runnable reference,
               Map<Choice, ? extends Supplier<Runnable>> candidates) {
        Choice c = forced;
        if (c == null) {
            Decision d = decisions.get(key);
            if (d != null) c = d.choice();
            else if (capturing) c = Choice.CUDNN;
            else c = decide(key, clocks, comparison, reference, candidates).choice();
            if (c != Choice.CUDNN && candidates.get(c) == null) c = Choice.CUDNN;   // remembered, but not offered this call
        } else if (c != Choice.CUDNN && candidates.get(c) == null) {
            throw new IllegalStateException("conv2d " + describe(key) + ": " + c.label() + " is forced but not offered for this call");
        }
        if (c == Choice.CUDNN) {
            reference.run();
        } else {
            Runnable body = candidates.get(c).get();
            if (body == null) throw new IllegalStateException("conv2d " + describe(key) + ": " + c.label() + " planned no body");
            body.run();
        }
        return c;
    }

    private Decision decide(Convolution.Key key, Supplier<? extends Clock> clocks, Comparison comparison, Runnable reference,
                            Map<Choice, ? extends Supplier<Runnable>> candidates) {
        Map<Choice, Runnable> alive = new EnumMap<>(Choice.class);
        List<String> notes = new ArrayList<>();
        Map<Choice, double[]> times = new EnumMap<>(Choice.class);
        try (Clock clock = clocks.get()) {
            for (int i = 0; i < WARMUPS; i++) reference.run();   // the reference failing is the caller's failure
            for (Choice c : Choice.values()) {
                Supplier<Runnable> plan = c == Choice.CUDNN ? null : candidates.get(c);
                if (plan == null) continue;
                try {
                    Runnable body = plan.get();
                    if (body == null) continue;   // the candidate declined this shape while planning
                    for (int i = 0; i < WARMUPS; i++) body.run();
                    if (comparison != null) {
                        double distance = comparison.distance(reference, body);
                        if (!(distance <= AGREEMENT)) {   // NaN disagrees too
                            exclude(key, notes, String.format(Locale.ROOT, "%s disagrees with cuDNN: rel-L2 %.3e", c.label(), distance), null);
                            continue;
                        }
                    }
                    alive.put(c, body);
                } catch (RuntimeException e) {
                    exclude(key, notes, c.label() + " failed: " + e, e);
                }
            }
            if (!alive.isEmpty()) {
                times.put(Choice.CUDNN, new double[RUNS]);
                for (Choice c : alive.keySet()) times.put(c, new double[RUNS]);
                for (int r = 0; r < RUNS; r++) {
                    times.get(Choice.CUDNN)[r] = clock.millis(reference);
                    for (Choice c : new ArrayList<>(alive.keySet())) {
                        try {
                            times.get(c)[r] = clock.millis(alive.get(c));
                        } catch (RuntimeException e) {
                            alive.remove(c);
                            times.remove(c);
                            exclude(key, notes, c.label() + " failed while timed: " + e, e);
                        }
                    }
                }
            }
        }
        Map<Choice, Double> medians = new EnumMap<>(Choice.class);
        Choice best = Choice.CUDNN;
        for (Map.Entry<Choice, double[]> e : times.entrySet()) {
            double m = median(e.getValue());
            medians.put(e.getKey(), m);
            if (m < medians.get(best)) best = e.getKey();   // strictly faster: ties stay with the earlier (the reference first)
        }
        Decision d = new Decision(best, medians, String.join("; ", notes));
        decisions.put(key, d);
        LOG.log(System.Logger.Level.INFO, () -> "conv2d " + describe(key) + ": " + line(d));
        return d;
    }

    private static void exclude(Convolution.Key key, List<String> notes, String why, Throwable cause) {
        notes.add(why);
        LOG.log(System.Logger.Level.WARNING, "conv2d " + describe(key) + ": " + why + "; the candidate is excluded", cause);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** One line per decided shape, in first-seen order: shape, choice, every timed path's median and the exclusions. */
    String describe() {
        StringBuilder s = new StringBuilder();
        if (forced != null) s.append("forced ").append(forced.label()).append(" for every shape\n");
        decisions.forEach((k, d) -> s.append(String.format(Locale.ROOT, "%-40s %s%n", describe(k), line(d))));
        return s.toString();
    }

    int decided() { return decisions.size(); }

    /** "cuDNN-graph (cuDNN 0.244 ms, cuDNN-graph 0.065 ms; im2col disagrees with cuDNN: rel-L2 3.1e-01)". */
    private static String line(Decision d) {
        List<String> parts = new ArrayList<>();
        d.millis().forEach((c, m) -> parts.add(String.format(Locale.ROOT, "%s %.3f ms", c.label(), m)));
        String times = String.join(", ", parts);
        String text = times.isEmpty() ? d.note() : d.note().isEmpty() ? times : times + "; " + d.note();
        return d.choice().label() + " (" + text + ")";
    }

    /** "B2 320x64x64 -> 320 k3x3 s1 p1" (groups when not 1). */
    static String describe(Convolution.Key k) {
        return "B" + k.batch() + " " + k.cin() + "x" + k.h() + "x" + k.w() + " -> " + k.cout() + " k" + k.kh() + "x" + k.kw()
                + " s" + k.stride() + " p" + k.pad() + (k.groups() != 1 ? " g" + k.groups() : "") + " " + k.precision();
    }

    /** CUDA events on the backend's stream; each {@link #millis} waits for its end event. */
    static final class EventClock implements Clock {
        private final CUstream_st stream;
        private final CUevent_st start = new CUevent_st(), end = new CUevent_st();
        private boolean startMade, endMade;

        EventClock(CUstream_st stream) {
            this.stream = stream;
            try {
                CudaCheck.rt(cudaEventCreateWithFlags(start, cudaEventDefault), "cudaEventCreateWithFlags(autotune start)");
                startMade = true;
                CudaCheck.rt(cudaEventCreateWithFlags(end, cudaEventDefault), "cudaEventCreateWithFlags(autotune end)");
                endMade = true;
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        @Override
        public double millis(Runnable body) {
            CudaCheck.rt(cudaEventRecord(start, stream), "cudaEventRecord(autotune start)");
            body.run();
            CudaCheck.rt(cudaEventRecord(end, stream), "cudaEventRecord(autotune end)");
            CudaCheck.rt(cudaEventSynchronize(end), "cudaEventSynchronize(autotune end)");
            float[] ms = new float[1];
            CudaCheck.rt(cudaEventElapsedTime(ms, start, end), "cudaEventElapsedTime(autotune)");
            return ms[0];
        }

        @Override
        public void close() {
            RuntimeException first = null;
            if (endMade) {
                endMade = false;
                try {
                    CudaCheck.rt(cudaEventDestroy(end), "cudaEventDestroy(autotune end)");
                } catch (RuntimeException e) {
                    first = e;
                }
            }
            if (startMade) {
                startMade = false;
                CudaCheck.rt(cudaEventDestroy(start), "cudaEventDestroy(autotune start)");
            }
            if (first != null) throw first;
        }
    }
}
