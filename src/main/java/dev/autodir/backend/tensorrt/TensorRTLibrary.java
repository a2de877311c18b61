package dev.autodir.backend.tensorrt;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.global.nvonnxparser;
import org.bytedeco.tensorrt.nvinfer.ILogger;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;

/**
 * The loaded TensorRT libraries: one logger for every builder, runtime and parser (TensorRT keeps a pointer to it,
 * so it lives as long as the process), and the library versions that go into engine cache keys.
 *
 * <p>Log lines at or above {@code -Dautodir.tensorrt.log=error|warning|info|verbose} (default warning) go to stderr as
 * "tensorrt: ..."; the recent errors are kept so that a failed parse, build or enqueue can say why in its exception.
 */
final class TensorRTLibrary {
    private static TensorRTLibrary instance;

    final Logger logger;
    final String tensorrtVersion;
    final String onnxParserVersion;

    private TensorRTLibrary() {
        Loader.load(nvinfer.class);
        Loader.load(nvonnxparser.class);
        logger = new Logger(Logger.threshold(System.getProperty("autodir.tensorrt.log", "warning")));
        tensorrtVersion = DeviceIdentity.tensorrtVersion(nvinfer.getInferLibVersion(), nvinfer.getInferLibBuildVersion());
        onnxParserVersion = String.valueOf(nvonnxparser.getNvOnnxParserVersion());
    }

    static synchronized TensorRTLibrary get() {
        if (instance == null) instance = new TensorRTLibrary();
        return instance;
    }

    /** Null when the bindings load and libnvinfer is TensorRT 10; else why not (for {@link TensorRTAvailability}). */
    static String loadProblem() {
        try {
            Loader.load(nvinfer.class);
            Loader.load(nvonnxparser.class);
            int v = nvinfer.getInferLibVersion();
            if (v / 10000 != 10) {
                return "libnvinfer is TensorRT " + (v / 10000) + "." + (v / 100 % 100) + ", the bindings (org.bytedeco:tensorrt 10.15) need TensorRT 10";
            }
            return null;
        } catch (Throwable t) {
            return "the TensorRT bindings do not load (" + t + "; -Dorg.bytedeco.javacpp.logger.debug=true shows the library that failed)";
        }
    }

    /** TensorRT's log sink. */
    static final class Logger extends ILogger {
        private final int threshold;
        private final Deque<String> errors = new ArrayDeque<>();

        Logger(int threshold) { this.threshold = threshold; }

        /** kINTERNAL_ERROR 0, kERROR 1, kWARNING 2, kINFO 3, kVERBOSE 4. */
        static int threshold(String level) {
            return switch (level.toLowerCase(Locale.ROOT)) {
                case "error" -> 1;
                case "warning" -> 2;
                case "info" -> 3;
                case "verbose" -> 4;
                default -> throw new IllegalArgumentException("-Dautodir.tensorrt.log=" + level + ": expected error, warning, info or verbose");
            };
        }

        @Override public void log(Severity severity, String message) {
            int level = severity.value;
            if (level <= 1) {
                synchronized (errors) {
                    errors.addLast(message);
                    while (errors.size() > 8) errors.removeFirst();
                }
            }
            if (level <= threshold) System.err.println("tensorrt: " + message);
        }

        /** The errors logged since the last call (oldest first), and forgets them. */
        List<String> takeErrors() {
            synchronized (errors) {
                List<String> e = new ArrayList<>(errors);
                errors.clear();
                return e;
            }
        }

        /** " (TensorRT: last error)" or "" — for exception messages. */
        String lastErrors() {
            List<String> e = takeErrors();
            return e.isEmpty() ? "" : " (TensorRT: " + String.join(" | ", e.subList(Math.max(0, e.size() - 3), e.size())) + ")";
        }
    }
}
