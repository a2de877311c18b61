package dev.autodir.cli;

import dev.autodir.engine.AutoDIREngine;
import dev.autodir.pipeline.RestoreOptions;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The options of {@code autodir restore} as key/value strings, for programs that embed the engine (the C API, the
 * Spark job). A key is a flag's long name without its dashes ({@code "steps"} for {@code --steps}); a value is what
 * follows the flag on the command line ({@code "true"} or {@code "false"} for a flag without a value). The values are
 * parsed and checked by the restore command itself (its picocli definitions and its checks), so the names, defaults,
 * ranges and messages are the command line's, and a flag added to the command is a key here without a change.
 *
 * <p>Two kinds of keys: {@linkplain Kind#ENGINE engine} keys say how the engine is opened ({@code weights},
 * {@code config}, {@code tokenizer}, {@code backend}, {@code precision}: the options of {@link EngineOptions}), and
 * {@linkplain Kind#RESTORE restore} keys what a restoration does ({@code steps}, {@code cfg-text}, {@code cfg-image},
 * {@code scm-weight}, {@code max-passes}, {@code prompt}, {@code seed}, {@code color-correct}, and whatever the command
 * turns into {@link RestoreOptions} later). The flags about a command-line run's files ({@code output},
 * {@code report}, {@code format}, {@code overwrite}, ...) are no keys here, except those a caller allows.
 */
public final class OptionStrings {
    public enum Kind { ENGINE, RESTORE }

    /** Flags of {@code restore} about the files and the terminal of one command-line run: not options of an engine. */
    static final Set<String> RUN_FLAGS = Set.of("output", "report", "save-passes", "format", "overwrite", "quiet",
            "progress-interval-ms", "help", "bit-depth", "jpeg-quality", "suffix", "name-template");

    /**
     * What a map of options gives.
     *
     * @param settings  how to open the engine; null when the map has no {@code weights}
     * @param restore   the restore options (the command's defaults for the keys not given)
     * @param extension the output file extension of {@code format} (png when not given)
     * @param overwrite {@code overwrite}: replace existing outputs (false when not given)
     */
    public record Parsed(AutoDIREngine.Settings settings, RestoreOptions restore, String extension, boolean overwrite) { }

    private OptionStrings() { }

    /** The kind of a key; throws naming the key when the restore command has no such option here. */
    public static Kind kind(String key) {
        return kind(key, Set.of());
    }

    private static Kind kind(String key, Set<String> allowedRunFlags) {
        CommandSpec spec = command().spec;
        OptionSpec o = key == null || key.startsWith("-") || RUN_FLAGS.contains(key) && !allowedRunFlags.contains(key)
                ? null : spec.findOption("--" + key);
        if (o == null) {
            throw new IllegalArgumentException("unknown option \"" + key + "\" (options: " + String.join(", ", keys(spec, allowedRunFlags)) + ")");
        }
        for (OptionSpec e : spec.mixins().get("engineOptions").options()) {
            if (e.longestName().equals(o.longestName())) return Kind.ENGINE;
        }
        return Kind.RESTORE;
    }

    /** Every key, sorted. */
    public static List<String> keys() {
        return keys(command().spec, Set.of());
    }

    private static List<String> keys(CommandSpec spec, Set<String> allowedRunFlags) {
        TreeSet<String> keys = new TreeSet<>();
        for (OptionSpec o : spec.options()) {
            String k = o.longestName().replaceFirst("^-+", "");
            if (!RUN_FLAGS.contains(k) || allowedRunFlags.contains(k)) keys.add(k);
        }
        return new ArrayList<>(keys);
    }

    /** {@link #parse(Map, Set)} without run flags. */
    public static Parsed parse(Map<String, String> options) {
        return parse(options, Set.of());
    }

    /**
     * Parses and checks a map of options as the restore command would its flags.
     *
     * @param allowedRunFlags run flags the caller takes (e.g. {@code format}); the others are unknown keys
     * @throws IllegalArgumentException naming the key and the problem (unknown key, a value that does not parse or is
     *                                  out of range, a weights file that does not exist, ...)
     */
    public static Parsed parse(Map<String, String> options, Set<String> allowedRunFlags) {
        RestoreCommand cmd = command();
        CommandLine cl = cmd.spec.commandLine();
        List<String> args = new ArrayList<>();
        for (Map.Entry<String, String> e : options.entrySet()) {
            String key = e.getKey(), value = e.getValue();
            kind(key, allowedRunFlags);
            if (value == null) throw new IllegalArgumentException(key + ": the value is missing");
            if (takesNoValue(cmd.spec.findOption("--" + key))) {
                String v = value.trim().toLowerCase(Locale.ROOT);
                if (!v.equals("true") && !v.equals("false")) {
                    throw new IllegalArgumentException(key + " is a switch: its value must be true or false, got \"" + value + "\"");
                }
                if (v.equals("true")) args.add("--" + key);
            } else {
                args.add("--" + key + "=" + value);
            }
        }
        try {
            cl.parseArgs(args.toArray(new String[0]));
            RestoreOptions restore = cmd.options(cl);
            String extension = RestoreCommand.extension(cl, cmd.format);
            AutoDIREngine.Settings settings = cmd.engineOptions.weights == null ? null : cmd.engineOptions.settings(cl);
            return new Parsed(settings, restore, extension, cmd.overwrite);
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /**
     * Command-line arguments ({@code --steps 20}, {@code --steps=20}, {@code --overwrite}) as a map of options, the
     * arguments that are no options of the restore command left in {@code rest} (in order).
     *
     * @throws IllegalArgumentException for an option without its value
     */
    public static Map<String, String> fromArgs(List<String> args, Set<String> allowedRunFlags, List<String> rest) {
        CommandSpec spec = command().spec;
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            int eq = a.indexOf('=');
            String key = a.startsWith("--") ? a.substring(2, eq < 0 ? a.length() : eq) : null;
            OptionSpec o = key == null || RUN_FLAGS.contains(key) && !allowedRunFlags.contains(key) ? null : spec.findOption("--" + key);
            if (o == null) {
                rest.add(a);
            } else if (eq >= 0) {
                out.put(key, a.substring(eq + 1));
            } else if (takesNoValue(o)) {
                out.put(key, "true");
            } else if (i + 1 < args.size()) {
                out.put(key, args.get(++i));
            } else {
                throw new IllegalArgumentException("--" + key + ": the value is missing");
            }
        }
        return out;
    }

    /** The entries of one kind, in order. */
    public static Map<String, String> only(Map<String, String> options, Kind kind) {
        Map<String, String> out = new LinkedHashMap<>();
        options.forEach((k, v) -> {
            if (!RUN_FLAGS.contains(k) && kind(k) == kind) out.put(k, v);
        });
        return Collections.unmodifiableMap(out);
    }

    private static boolean takesNoValue(ArgSpec o) {
        return o.arity().max() == 0;
    }

    /**
     * A restore command to parse into, with its flags relaxed as a map of options needs: no required weights (a
     * restoration's own options do not repeat the engine's) and no required image arguments.
     */
    private static RestoreCommand command() {
        RestoreCommand cmd = new RestoreCommand();
        CommandLine cl = new CommandLine(cmd);
        CommandSpec spec = cl.getCommandSpec();
        OptionSpec weights = spec.findOption("--weights");
        spec.remove(weights);
        spec.addOption(weights.toBuilder().required(false).build());
        for (PositionalParamSpec p : new ArrayList<>(spec.positionalParameters())) {
            spec.remove(p);
            spec.addPositional(p.toBuilder().arity("0..*").required(false).build());
        }
        return cmd;
    }
}
