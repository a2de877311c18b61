package dev.autodir.backend.cuda;

import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;

import java.util.Arrays;
import java.util.LinkedHashMap;
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
 * Chooses, per convolution shape, between cuDNN's plan and the im2col + cuBLASLt path ({@link Features#convIm2col}):
 * the first time a shape runs outside a CUDA graph capture both are timed on the real tensors (one warm-up each,
 * then {@link #RUNS} alternating timed runs; the medians compare), the faster is remembered and used from then on,
 * also inside captures. A shape first seen inside a capture (no timing is possible there) runs cuDNN and is not
 * remembered, so its next eager use times it. When the im2col path throws while being timed, the shape stays on
 * cuDNN and the error is logged.
 *
 * <p>With a {@link Comparison}, the two paths' results are also compared once, before the timing: an im2col result
 * whose relative L2 distance from cuDNN's exceeds {@link #AGREEMENT} keeps the shape on cuDNN (and is logged), so a
 * wrong fast path cannot win on speed. The im2col path has not run on a GPU yet (Features.convIm2col).
 *
 * <p>The device work comes in as {@link Runnable}s and the timing through a {@link Clock} (CUDA events on the
 * device: {@link EventClock}), so the bookkeeping is tested without a GPU.
 */
final class ConvAutotune {
    private static final System.Logger LOG = System.getLogger(ConvAutotune.class.getName());

    static final int WARMUPS = 1;
    static final int RUNS = 3;
    /** Largest relative L2 distance between the two paths' FP16 results that counts as the same convolution. */
    static final double AGREEMENT = 1e-2;

    /** The relative L2 distance of candidate's result from reference's (each run leaves its result in the output). */
    interface Comparison {
        double distance(Runnable reference, Runnable candidate);
    }

    enum Choice { CUDNN, IM2COL }

    /** What a shape uses and the median milliseconds that decided it. */
    record Decision(Choice choice, double cudnnMillis, double im2colMillis, String note) { }

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
     * Runs the convolution {@code key} through the path chosen for it (timing both first when the shape is new and
     * {@code capturing} is false) and returns the path whose result is left in the output.
     */
    Choice run(Convolution.Key key, boolean capturing, Supplier<? extends Clock> clocks, Runnable cudnn, Runnable im2col) {
        return run(key, capturing, clocks, null, cudnn, im2col);
    }

    /** As above, comparing the two results first when {@code comparison} is not null. */
    Choice run(Convolution.Key key, boolean capturing, Supplier<? extends Clock> clocks, Comparison comparison, Runnable cudnn,
               Runnable im2col) {
        Choice c = forced;
        if (c == null) {
            Decision d = decisions.get(key);
            if (d != null) c = d.choice();
            else if (capturing) c = Choice.CUDNN;
            else c = decide(key, clocks, comparison, cudnn, im2col).choice();
        }
        (c == Choice.IM2COL ? im2col : cudnn).run();
        return c;
    }

    private Decision decide(Convolution.Key key, Supplier<? extends Clock> clocks, Comparison comparison, Runnable cudnn,
                            Runnable im2col) {
        double[] tc = new double[RUNS], ti = new double[RUNS];
        Decision d;
        try (Clock clock = clocks.get()) {
            for (int i = 0; i < WARMUPS; i++) cudnn.run();
            try {
                for (int i = 0; i < WARMUPS; i++) im2col.run();
                if (comparison != null) {
                    double distance = comparison.distance(cudnn, im2col);
                    if (!(distance <= AGREEMENT)) {   // NaN disagrees too
                        d = new Decision(Choice.CUDNN, Double.NaN, Double.NaN,
                                String.format(Locale.ROOT, "im2col disagrees with cuDNN: rel-L2 %.3e", distance));
                        decisions.put(key, d);
                        LOG.log(System.Logger.Level.WARNING, "conv2d " + describe(key) + ": " + d.note() + "; cuDNN is used");
                        return d;
                    }
                }
                for (int i = 0; i < RUNS; i++) {
                    tc[i] = clock.millis(cudnn);
                    ti[i] = clock.millis(im2col);
                }
            } catch (RuntimeException e) {
                d = new Decision(Choice.CUDNN, Double.NaN, Double.NaN, "im2col failed: " + e);
                decisions.put(key, d);
                LOG.log(System.Logger.Level.WARNING, "conv2d " + describe(key) + ": the im2col path failed, cuDNN is used", e);
                return d;
            }
        }
        double mc = median(tc), mi = median(ti);
        Decision timed = new Decision(mi < mc ? Choice.IM2COL : Choice.CUDNN, mc, mi, "");
        decisions.put(key, timed);
        LOG.log(System.Logger.Level.INFO, () -> "conv2d " + describe(key) + ": " + line(timed));
        return timed;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** One line per decided shape, in first-seen order: shape, choice and both median times. */
    String describe() {
        StringBuilder s = new StringBuilder();
        if (forced != null) s.append("forced ").append(name(forced)).append(" for every shape\n");
        decisions.forEach((k, d) -> s.append(String.format(Locale.ROOT, "%-40s %s%n", describe(k), line(d))));
        return s.toString();
    }

    int decided() { return decisions.size(); }

    private static String line(Decision d) {
        String times = Double.isNaN(d.cudnnMillis()) ? d.note()
                : String.format(Locale.ROOT, "cuDNN %.3f ms, im2col %.3f ms", d.cudnnMillis(), d.im2colMillis());
        return name(d.choice()) + " (" + times + ")";
    }

    private static String name(Choice c) { return c == Choice.IM2COL ? "im2col" : "cuDNN"; }

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
