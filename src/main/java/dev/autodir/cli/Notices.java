package dev.autodir.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/** Runs code that prints notices to a PrintStream (e.g. a backend fallback) with them going to a command's stderr. */
final class Notices {
    private Notices() { }

    static <T> T to(PrintWriter err, Function<PrintStream, T> body) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream notices = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            return body.apply(notices);
        } finally {
            err.print(buf.toString(StandardCharsets.UTF_8));
            err.flush();
        }
    }
}
