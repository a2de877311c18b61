package dev.autodir.capi;

import dev.autodir.cli.OptionStrings;
import dev.autodir.cli.SingleImage;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.image.ImageFileException;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.io.CheckpointException;
import dev.autodir.model.ConfigException;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.text.VocabularyException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;

/**
 * The Java side of the C API ({@code src/main/cpp/autodir.h}): static methods that {@code libautodir.so} calls through
 * JNI, on the caller's thread. Strings come and go as UTF-8 byte arrays (JNI's own string functions use modified
 * UTF-8). Every method may throw; the C side turns the exception into a status with {@link #statusOf} and a message
 * with {@link #messageOf}, so no exception crosses into C.
 *
 * <p>Options are the restore command's flags as key/value strings ({@link OptionStrings}), plus {@code overwrite}
 * for {@code autodir_restore_file}.
 */
public final class NativeBridge {
    /** The C API's status codes ({@code autodir_status}). */
    static final int OK = 0, INVALID_ARGUMENT = 1, IMAGE_FILE = 2, MODEL_FILE = 3, CANCELLED = 4, OUT_OF_MEMORY = 5,
            IO_ERROR = 6, INTERNAL = 8;

    /** Progress kinds ({@code autodir_progress_kind}). */
    static final int PASS_START = 1, STEP = 2, PASS_END = 3;

    /** The run flags the C API takes besides engine and restore options. */
    private static final Set<String> RUN_FLAGS = Set.of("overwrite");

    private NativeBridge() { }

    /** An {@code autodir_options}: key/value strings, each checked when set. */
    static final class Options {
        final Map<String, String> values = new LinkedHashMap<>();

        /** Sets a key after checking the map with it (so a bad value leaves the options as they were). */
        void set(String key, String value) {
            Map<String, String> next = new LinkedHashMap<>(values);
            next.put(key, value);
            OptionStrings.parse(next, RUN_FLAGS);
            values.put(key, value);
        }
    }

    /** An {@code autodir_engine}: the engine, what it was opened with, and its default restore options. */
    static final class Engine {
        final AutoDIREngine engine;
        final AutoDIREngine.Settings settings;
        final Map<String, String> defaults;
        final double loadMs;

        Engine(AutoDIREngine engine, AutoDIREngine.Settings settings, Map<String, String> defaults, double loadMs) {
            this.engine = engine;
            this.settings = settings;
            this.defaults = defaults;
            this.loadMs = loadMs;
        }

        /** The options of one call: the engine's restore options, then the call's (which must not be engine options). */
        OptionStrings.Parsed options(Options call) {
            Map<String, String> merged = new LinkedHashMap<>(defaults);
            if (call != null) {
                for (Map.Entry<String, String> e : call.values.entrySet()) {
                    if (!RUN_FLAGS.contains(e.getKey()) && OptionStrings.kind(e.getKey()) == OptionStrings.Kind.ENGINE) {
                        throw new IllegalArgumentException(e.getKey() + " is an engine option: it applies when the engine is created"
                                + " (autodir_engine_create), not to one restore");
                    }
                    merged.put(e.getKey(), e.getValue());
                }
            }
            return OptionStrings.parse(merged, RUN_FLAGS);
        }
    }

    // ------------------------------------------------------------------ called from C

    static byte[] version() {
        String v = NativeBridge.class.getPackage().getImplementationVersion();
        return (v == null ? "dev" : v).getBytes(StandardCharsets.UTF_8);
    }

    static Object newOptions() {
        return new Options();
    }

    static void setOption(Object options, byte[] key, byte[] value) {
        ((Options) options).set(utf8(key, "option name"), utf8(value, "value of an option"));
    }

    static Object open(Object options) {
        Options o = (Options) options;
        OptionStrings.Parsed p = OptionStrings.parse(o.values, RUN_FLAGS);
        if (p.settings() == null) throw new IllegalArgumentException("weights: no checkpoint given (autodir_options_set(opts, \"weights\", path))");
        Map<String, String> defaults = new LinkedHashMap<>();
        o.values.forEach((k, v) -> {
            if (RUN_FLAGS.contains(k) || OptionStrings.kind(k) == OptionStrings.Kind.RESTORE) defaults.put(k, v);
        });
        long t0 = System.nanoTime();
        AutoDIREngine engine = AutoDIREngine.open(p.settings());
        return new Engine(engine, p.settings(), defaults, (System.nanoTime() - t0) / 1e6);
    }

    static void close(Object engine) {
        ((Engine) engine).engine.close();
    }

    /** Restores a buffer into a buffer; returns the JSON report when asked (else null). */
    static byte[] restore(Object engine, Object options, ByteBuffer in, int inFormat, int width, int height, long inStride,
                          long inPlaneStride, ByteBuffer out, int outFormat, int outWidth, int outHeight, long outStride,
                          long outPlaneStride, long callback, long user, boolean wantReport) {
        Engine e = (Engine) engine;
        PixelBuffer input = PixelBuffer.of("input", inFormat, width, height, inStride, inPlaneStride, in);
        PixelBuffer output = PixelBuffer.of("output", outFormat, outWidth, outHeight, outStride, outPlaneStride, out);
        if (outWidth != width || outHeight != height) {
            throw new IllegalArgumentException("output: the buffer is " + outWidth + "x" + outHeight + " but the input is "
                    + width + "x" + height + " (a restored image has the input's size)");
        }
        RestoreOptions o = e.options((Options) options).restore();
        SingleImage.Result r = SingleImage.restore(e.engine, e.settings, e.loadMs, o, input.toImage(), null, null, false,
                progress(callback, user));
        output.write(r.output());
        return wantReport ? r.report().getBytes(StandardCharsets.UTF_8) : null;
    }

    /** Restores an image file into an image file (format by extension), with the command line's rules. */
    static byte[] restoreFile(Object engine, Object options, byte[] inputPath, byte[] outputPath, long callback, long user,
                              boolean wantReport) {
        Engine e = (Engine) engine;
        OptionStrings.Parsed p = e.options((Options) options);
        Path input = Path.of(utf8(inputPath, "input path")), output = Path.of(utf8(outputPath, "output path"));
        RgbImage image = RgbImageReader.read(input);
        SingleImage.Result r = SingleImage.restore(e.engine, e.settings, e.loadMs, p.restore(), image, input, output, p.overwrite(),
                progress(callback, user));
        return wantReport ? r.report().getBytes(StandardCharsets.UTF_8) : null;
    }

    static int statusOf(Throwable t) {
        if (t instanceof CancellationException) return CANCELLED;
        if (t instanceof ImageFileException) return IMAGE_FILE;
        if (t instanceof CheckpointException || t instanceof ConfigException || t instanceof VocabularyException) return MODEL_FILE;
        if (t instanceof IllegalArgumentException) return INVALID_ARGUMENT;
        if (t instanceof OutOfMemoryError) return OUT_OF_MEMORY;
        if (t instanceof UncheckedIOException || t instanceof IOException) return IO_ERROR;
        return INTERNAL;
    }

    static byte[] messageOf(Throwable t) {
        String m;
        if (t instanceof CancellationException) m = t.getMessage();
        else if (t instanceof OutOfMemoryError) m = "out of memory (" + t.getMessage() + "); a larger -Xmx in AUTODIR_JVM_OPTIONS may help";
        else m = SingleImage.message(t);
        return (m == null ? t.getClass().getName() : m).getBytes(StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------ calling C

    /** Calls the host's {@code autodir_progress_fn} (registered by libautodir.so); returns its value. */
    private static native int progress0(long callback, long user, int kind, int pass, int maxPasses, int step, int steps,
                                        double elapsedMs, byte[] detail);

    /** An observer that reports to the host's callback (none when callback is 0) and cancels when it returns non-zero. */
    private static Restorer.Observer progress(long callback, long user) {
        if (callback == 0) return null;
        long t0 = System.nanoTime();
        return new Restorer.Observer() {
            private int maxPasses;

            private void call(int kind, int pass, int step, int steps, String detail, String where) {
                int r = progress0(callback, user, kind, pass, maxPasses, step, steps, (System.nanoTime() - t0) / 1e6,
                        detail == null ? null : detail.getBytes(StandardCharsets.UTF_8));
                if (r != 0) throw new CancellationException("restore cancelled by the progress callback (it returned " + r + ") " + where);
            }

            @Override public void onPassStart(int pass, int maxPasses) {
                this.maxPasses = maxPasses;
                call(PASS_START, pass, 0, 0, null, "at the start of pass " + (pass + 1));
            }

            @Override public void onStep(int pass, int step, int steps, float sigma, float t, dev.autodir.backend.Ops ops,
                                         dev.autodir.backend.Tensor z, dev.autodir.backend.Tensor denoised) {
                call(STEP, pass, step + 1, steps, null, "at pass " + (pass + 1) + " step " + (step + 1) + "/" + steps);
            }

            @Override public void onPassEnd(int pass, Restorer.PassResult r) {
                call(PASS_END, pass, 0, 0, r.chosenClass() == null ? "prompt" : r.chosenClass(), "after pass " + (pass + 1));
            }
        };
    }

    private static String utf8(byte[] b, String what) {
        if (b == null) throw new IllegalArgumentException(what + " is NULL");
        try {
            CharBuffer c = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b));
            return c.toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(what + " is not valid UTF-8");
        }
    }
}
