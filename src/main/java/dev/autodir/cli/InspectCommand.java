package dev.autodir.cli;

import dev.autodir.io.DType;
import dev.autodir.io.TensorInfo;
import dev.autodir.io.WeightStore;
import dev.autodir.model.ConfigInference;
import dev.autodir.model.ConfigSources;
import dev.autodir.model.ModelYaml;
import dev.autodir.model.ScheduleConfig;
import dev.autodir.tensor.FloatTensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code autodir inspect}: what a checkpoint holds, read from tensor shapes only. */
@Command(name = "inspect",
        description = {"Show the networks in a checkpoint, their configs inferred from tensor shapes, parameter"
                + " counts and dtypes, and the keys no network uses. Reads no tensor data except the"
                + " alphas_cumprod schedule buffer; validates every weight against the inferred config.",
                "",
                "Values the shapes cannot tell (head counts, layer-norm epsilons, the schedule's constants) come from"
                        + " --config or are AutoDIR's official defaults, and are marked so. A head count that cannot"
                        + " work (it does not divide its width, or the config sets it for one CLIP tower only) is marked"
                        + " with '!' and listed under problems; the report is still printed, and the exit status is 1.",
                "", "With --scan, also reads every float tensor and reports those holding NaN or infinity"
                + " (one such weight makes every output NaN); exit status 1 if any does."},
        footer = {"", "Exit status: 0 the checkpoint and config load; 1 they do not (the reason on stderr); 2 a bad option."})
final class InspectCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CHECKPOINT",
            description = "A PyTorch(-Lightning) .ckpt (torch.save zip) or a .safetensors file; the format is read from the content.")
    Path checkpoint;

    @Option(names = "--config", paramLabel = "FILE",
            description = "An official-style YAML config (configs/generate.yaml format) for what shapes cannot tell"
                    + " (head counts, schedule); values it gives must agree with the weights. Default: the official values.")
    Path config;

    @Option(names = "--config-template",
            description = "Print, instead of the report, a YAML config in the layout of configs/generate.yaml with every"
                    + " value inferred, each commented with where it came from, and FILL_IN where a value must be chosen:"
                    + " autodir inspect CKPT --config-template > my.yaml, edit, then --config my.yaml.")
    boolean configTemplate;

    @Option(names = "--scan", description = "Read every float tensor and report NaN and infinite values (reads all the data:"
            + " seconds per GB).")
    boolean scan;

    /** One tensor's non-finite values. */
    record NonFinite(String key, long nan, long positiveInfinity, long negativeInfinity, long numel) { }

    @Override public Integer call() {
        ModelYaml yaml = config == null ? ModelYaml.none() : ModelYaml.read(config);
        String text;
        List<ConfigInference.HeadProblem> problems;
        List<NonFinite> bad = List.of();
        try (WeightStore store = WeightStore.open(checkpoint)) {
            ConfigInference.Inference r = ConfigInference.survey(store, yaml);
            problems = ConfigInference.headProblems(store, yaml, r);
            List<ConfigSources.Entry> entries = ConfigSources.entries(r, yaml);
            text = configTemplate ? ConfigSources.template(entries, problems, store.path().toString())
                    : render(store, r, yaml, entries, problems);
            if (scan && !configTemplate) {
                bad = scan(store);
                text += scanReport(store, bad);
            }
        }
        // all or nothing: the output is printed only once everything has been read and validated
        PrintWriter out = spec.commandLine().getOut();
        out.print(text);
        out.flush();
        if (!bad.isEmpty()) {
            throw new IllegalArgumentException(checkpoint + ": " + bad.size() + " tensor" + (bad.size() == 1 ? " holds" : "s hold")
                    + " NaN or infinite values, the first " + bad.get(0).key());
        }
        if (problems.isEmpty()) return 0;
        PrintWriter err = spec.commandLine().getErr();
        if (configTemplate) {
            err.println("autodir: " + problems.size() + " value" + (problems.size() == 1 ? "" : "s") + " to choose: replace FILL_IN in the template");
            err.flush();
            return 0;
        }
        err.println("autodir: " + problems.get(0).message() + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more problems)" : "")
                + "; '--config-template' writes a config to fill in");
        err.flush();
        return Main.FAILURE;
    }

    /** Every float tensor that holds a NaN or an infinity, read one at a time. */
    static List<NonFinite> scan(WeightStore store) {
        List<NonFinite> bad = new java.util.ArrayList<>();
        for (String k : store.keys()) {
            if (!store.info(k).dtype().isFloat()) continue;
            float[] d = store.readFloat(k).data();
            long nan = 0, pos = 0, neg = 0;
            for (float v : d) {
                if (Float.isNaN(v)) nan++;
                else if (v == Float.POSITIVE_INFINITY) pos++;
                else if (v == Float.NEGATIVE_INFINITY) neg++;
            }
            if (nan + pos + neg > 0) bad.add(new NonFinite(k, nan, pos, neg, d.length));
        }
        return bad;
    }

    private static String scanReport(WeightStore store, List<NonFinite> bad) {
        long floats = store.keys().stream().filter(k -> store.info(k).dtype().isFloat()).count();
        StringBuilder b = new StringBuilder("\nscan  ").append(floats).append(" float tensors read, ").append(bad.size())
                .append(" with NaN or infinite values\n");
        for (NonFinite n : bad) {
            b.append(String.format(Locale.ROOT, "  %s  %d NaN, %d +inf, %d -inf of %d%n", n.key(), n.nan(), n.positiveInfinity(),
                    n.negativeInfinity(), n.numel()));
        }
        return b.toString();
    }

    static String render(WeightStore store, ConfigInference.Inference r, ModelYaml yaml, List<ConfigSources.Entry> entries,
                         List<ConfigInference.HeadProblem> problems) {
        StringBuilder b = new StringBuilder();
        long total = 0;
        for (ConfigInference.Network n : r.networks()) total += parameters(n);
        b.append("checkpoint  ").append(store.path()).append('\n');
        b.append("tensors     ").append(store.keys().size()).append(", of which ").append(r.networks().size())
                .append(" networks bind ").append(store.keys().size() - r.unusedKeys().size()).append(" (")
                .append(grouped(total)).append(" parameters)\n");
        b.append("config      ").append(yaml.source()).append('\n');
        for (ConfigInference.Network n : r.networks()) {
            b.append('\n').append(n.name()).append("  ").append(n.prefix()).append("*  ")
                    .append(n.weights().size()).append(" tensors, ").append(grouped(parameters(n))).append(" parameters, ")
                    .append(dtypes(store, n.weights().keySet())).append('\n');
            for (RecordComponent rc : n.config().getClass().getRecordComponents()) {
                b.append(line(rc.getName(), value(rc, n.config()), ConfigSources.find(entries, n.name(), rc.getName()), problems));
            }
        }
        ScheduleConfig s = r.schedule();
        b.append("\nschedule  ").append(s.timesteps()).append(" timesteps, alphas_cumprod ")
                .append(r.scheduleFromBuffer() ? "from the checkpoint's buffer" : "computed from linear_start/linear_end")
                .append('\n');
        b.append(line("linearStart", s.linearStart(), ConfigSources.find(entries, "schedule", "linearStart"), problems));
        b.append(line("linearEnd", s.linearEnd(), ConfigSources.find(entries, "schedule", "linearEnd"), problems));
        b.append(line("scaleFactor", s.scaleFactor(), ConfigSources.find(entries, "schedule", "scaleFactor"), problems));
        float[] ac = s.alphasCumprod();
        b.append(String.format(Locale.ROOT, "  %-22s [%s, ..., %s]%n", "alphasCumprod", ac[0], ac[ac.length - 1]));

        b.append("\nkeys no network uses (").append(r.unusedKeys().size()).append(")\n");
        for (String k : r.unusedKeys()) {
            TensorInfo i = store.info(k);
            b.append("  ").append(k).append("  ").append(i.dtype()).append(' ').append(Arrays.toString(i.shape()));
            if (k.equals(ConfigInference.ALPHAS_CUMPROD) && r.scheduleFromBuffer()) b.append("  (read for the schedule)");
            b.append('\n');
        }
        if (!problems.isEmpty()) {
            b.append("\nproblems (").append(problems.size()).append(")\n");
            for (ConfigInference.HeadProblem p : problems) b.append("  ! ").append(p.message()).append('\n');
            b.append("  autodir inspect ").append(store.path()).append(" --config-template > my.yaml  writes a config to fill in\n");
        }
        return b.toString();
    }

    /** "  heads                  12  (official default: shapes cannot tell it)", with '!' for a value with a problem. */
    private static String line(String name, Object value, ConfigSources.Entry entry, List<ConfigInference.HeadProblem> problems) {
        String mark = "";
        if (entry != null) {
            boolean wrong = problems.stream().anyMatch(p -> p.key().equals(entry.key()));
            if (wrong) mark = "  ! cannot be used (see problems); " + entry.source().text();
            else if (entry.source() != ConfigSources.Source.WEIGHTS) mark = "  (" + entry.source().text() + ")";
        }
        return String.format(Locale.ROOT, "  %-22s %s%s%n", name, value, mark);
    }

    private static Object value(RecordComponent rc, Record config) {
        try {
            Object v = rc.getAccessor().invoke(config);
            return v instanceof float[] f ? Arrays.toString(f) : v;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read " + rc.getName() + " of " + config, e);
        }
    }

    private static long parameters(ConfigInference.Network n) {
        long p = 0;
        for (int[] shape : n.weights().values()) p += FloatTensor.numel(shape);
        return p;
    }

    private static String dtypes(WeightStore store, Iterable<String> keys) {
        Map<DType, Integer> counts = new TreeMap<>();
        for (String k : keys) counts.merge(store.info(k).dtype(), 1, Integer::sum);
        if (counts.size() == 1) return counts.keySet().iterator().next().toString();
        List<String> parts = counts.entrySet().stream().map(e -> e.getKey() + " ×" + e.getValue()).toList();
        return String.join(", ", parts);
    }

    private static String grouped(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }
}
