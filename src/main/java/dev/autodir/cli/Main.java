package dev.autodir.cli;

import dev.autodir.backend.BackendException;
import dev.autodir.image.ImageFileException;
import dev.autodir.io.CheckpointException;
import dev.autodir.model.ConfigException;
import dev.autodir.pipeline.NonFiniteException;
import dev.autodir.text.VocabularyException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.concurrent.CancellationException;

/**
 * The {@code autodir} command line. A subcommand is a picocli {@code @Command} class; adding one is adding
 * it to {@code subcommands} below. Libraries throw; only this class picks exit codes: 0 success, 1 a
 * failure (one line on stderr: {@code autodir: <message>}), 2 a usage error.
 */
@Command(name = "autodir",
        description = "AutoDIR all-in-one image restoration: checkpoint tools and inference.",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {
                InspectCommand.class,
                GoldenCheckCommand.class,
                BenchCommand.class,
                ExportOnnxCommand.class,
                RestoreCommand.class,
                AssessCommand.class,
        },
        footer = {"", "Run 'autodir COMMAND --help' for a command's options.",
                "Set AUTODIR_DEBUG=1 to print the stack trace of a failure."})
public final class Main implements Runnable {
    public static final int FAILURE = 1;
    public static final int USAGE = 2;

    @Spec CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT, description = "Show this help and exit.")
    boolean help;

    @Override public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command");
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        int code = run(args, out, err);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /** Runs one command line; returns the exit code (for tests and embedding). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, argv) -> {
            String cmd = ex.getCommandLine().getCommandSpec().qualifiedName();
            err.println("autodir: " + ex.getMessage() + " (see '" + cmd + " --help')");
            err.flush();
            return USAGE;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            err.println("autodir: " + message(ex));
            if (debug()) ex.printStackTrace(err);
            err.flush();
            return FAILURE;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError | StackOverflowError e) {
            // an Error is no reason for a 1,000-line trace: one line, like every other failure
            err.println("autodir: " + message(e));
            if (System.getenv("AUTODIR_DEBUG") != null) e.printStackTrace(err);
            err.flush();
            return FAILURE;
        }
    }

    /**
     * Whether failures get their stack trace: the environment variable AUTODIR_DEBUG is set, or the system property
     * autodir.debug is true (for programs that call {@link #run} and for tests).
     */
    static boolean debug() {
        return System.getenv("AUTODIR_DEBUG") != null || Boolean.getBoolean("autodir.debug");
    }

    /** One line: the message of an anticipated failure, or the exception type of an unanticipated one. */
    static String message(Throwable ex) {
        String msg = ex.getMessage();
        if (ex instanceof CheckpointException || ex instanceof ConfigException || ex instanceof ImageFileException
                || ex instanceof IllegalArgumentException || ex instanceof BackendException || ex instanceof CancellationException
                || ex instanceof VocabularyException || ex instanceof NonFiniteException) {
            return oneLine(msg);
        }
        if (ex instanceof OutOfMemoryError) {
            Runtime rt = Runtime.getRuntime();
            return "out of memory (the Java heap may grow to " + (rt.maxMemory() >> 20) + " MiB; raise it with"
                    + " AUTODIR_JAVA_OPTS=-Xmx..., or use a smaller input)";
        }
        if (ex instanceof StackOverflowError) return "internal error: stack overflow (set AUTODIR_DEBUG=1 for the stack trace)";
        if (ex instanceof UncheckedIOException || ex instanceof IOException) {
            return oneLine(msg != null ? msg : ex.getClass().getSimpleName());
        }
        return "internal error: " + ex.getClass().getName() + (msg != null ? ": " + oneLine(msg) : "")
                + " (set AUTODIR_DEBUG=1 for the stack trace)";
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ").trim();
    }
}
