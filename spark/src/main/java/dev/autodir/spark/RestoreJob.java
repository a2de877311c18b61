package dev.autodir.spark;

import dev.autodir.cli.OptionStrings;
import dev.autodir.cli.SingleImage;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;

import java.io.BufferedReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;

import static org.apache.spark.sql.functions.col;

/**
 * Batch restoration on Apache Spark: the images of folders, files or a list, restored by the executors (one engine
 * per executor JVM, {@link ExecutorEngine}), each output written under one output root with the command line's
 * names and rules, and one result row per image appended to a Parquet or JSON dataset. A failed image is a row with
 * its error, not a failed job; a re-run skips the images whose output is complete.
 */
@Command(name = "autodir-spark", sortOptions = false, mixinStandardHelpOptions = true,
        description = {"Restore images with AutoDIR on a Spark cluster (spark-submit --class dev.autodir.spark.RestoreJob"
                + " autodir-spark.jar ...).", "",
                "Each image's output is OUTPUT/NAME_restored.<ext>, as `autodir restore -o OUTPUT` names it; outputs are"
                        + " written atomically and never replaced: an image whose output is already there and reads as a"
                        + " complete image is skipped, so a re-run does only what is left. Of two inputs with one NAME"
                        + " the second is refused. Paths may be on any Hadoop file system (hdfs://, s3a://, file://).", ""})
public final class RestoreJob implements Callable<Integer> {
    /** The restore command's file flags the job takes (besides the engine and restore options). */
    static final Set<String> RUN_FLAGS = Set.of("format");

    @Option(names = "--input", paramLabel = "PATH",
            description = "An image file, or a folder: the png, jpg, jpeg, tif and tiff files directly inside (not in"
                    + " subfolders; hidden and _ files skipped). Repeatable.")
    List<String> inputs = new ArrayList<>();

    @Option(names = "--input-list", paramLabel = "FILE",
            description = "A text file of image paths, one per line (blank lines and lines starting with # skipped).")
    String inputList;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Where outputs go; created if missing.")
    String output;

    @Option(names = "--results", paramLabel = "DIR",
            description = "The result rows' dataset, appended to by every run (column run tells runs apart)."
                    + " Default: OUTPUT/autodir-results.")
    String results;

    @Option(names = "--results-format", paramLabel = "parquet|json", defaultValue = "parquet",
            description = "Format of the result rows. Default: ${DEFAULT-VALUE}.")
    String resultsFormat;

    @Option(names = "--partitions", paramLabel = "N",
            description = "Partitions of the image list. Default: Spark's default parallelism, at most one per image.")
    Integer partitions;

    @Unmatched List<String> restoreFlags = new ArrayList<>();

    private SparkSession spark;
    private Summary summary;

    /** What a run did: its id, where its rows are, and how many images were restored, skipped and failed. */
    public record Summary(String run, String results, Map<String, Long> byStatus) {
        public long count(String status) { return byStatus.getOrDefault(status, 0L); }
    }

    public static void main(String[] args) {
        SparkSession spark = SparkSession.builder().appName("autodir-restore").getOrCreate();
        int code;
        try {
            code = command(spark).execute(args);
        } finally {
            ExecutorEngine.close();
            spark.stop();
        }
        System.exit(code);
    }

    /**
     * Runs the job on a session (for tests and programs); a bad option throws {@link IllegalArgumentException}
     * naming it before any work starts.
     */
    public static Summary run(SparkSession spark, String... args) {
        CommandLine cl = command(spark);
        RestoreJob job = cl.getCommand();
        try {
            cl.parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        job.call();
        return job.summary;
    }

    private static CommandLine command(SparkSession spark) {
        RestoreJob job = new RestoreJob();
        job.spark = spark;
        CommandLine cl = new CommandLine(job);
        cl.getCommandSpec().usageMessage().footer("",
                "Engine and restore options: those of `autodir restore`, with the same names, values and checks"
                        + " (bin/autodir restore --help): " + String.join(", ", OptionStrings.keys()) + "; also --format"
                        + " png|jpg|tiff. --weights is required, and must be readable on the driver and on every executor.",
                "",
                "Exit status: 0 the job ran (failed images are rows with status failed); 1 the job failed; 2 a bad option.");
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            c.getErr().println("autodir-spark: " + SingleImage.message(ex));
            return ex instanceof IllegalArgumentException ? 2 : 1;
        });
        return cl;
    }

    @Override public Integer call() {
        List<String> unknown = new ArrayList<>();
        Map<String, String> options = OptionStrings.fromArgs(restoreFlags, RUN_FLAGS, unknown);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown option or argument " + unknown.get(0) + " (see --help)");
        }
        OptionStrings.Parsed parsed = OptionStrings.parse(options, RUN_FLAGS);
        if (parsed.settings() == null) throw new IllegalArgumentException("--weights: a checkpoint is required");
        String format = resultsFormat.toLowerCase(Locale.ROOT);
        if (!format.equals("parquet") && !format.equals("json")) {
            throw new IllegalArgumentException("--results-format must be parquet or json, got \"" + resultsFormat + "\"");
        }
        if (partitions != null && partitions < 1) throw new IllegalArgumentException("--partitions must be >= 1, got " + partitions);
        if (inputs.isEmpty() && inputList == null) throw new IllegalArgumentException("no images: give --input or --input-list");

        Configuration conf = spark.sparkContext().hadoopConfiguration();
        String run = Instant.now() + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffff);
        Path outRoot = qualified(new Path(output), conf);
        String resultsDir = results != null ? results : new Path(outRoot, "autodir-results").toString();
        List<ImageTask> tasks = new ArrayList<>();
        List<ImageResult> refused = new ArrayList<>();
        plan(collect(conf, run, refused), outRoot, parsed.extension(), run, tasks, refused);
        try {
            outRoot.getFileSystem(conf).mkdirs(outRoot);
        } catch (IOException e) {
            throw new UncheckedIOException(outRoot + ": cannot create the output folder: " + e.getMessage(), e);
        }

        Map<String, String> hadoop = new HashMap<>();
        conf.forEach(e -> hadoop.put(e.getKey(), e.getValue()));
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int slices = partitions != null ? partitions : Math.max(1, Math.min(tasks.size(), jsc.defaultParallelism()));
        JavaRDD<ImageResult> rows = jsc.parallelize(tasks, slices).mapPartitions(new ImageRestorer(run, options, hadoop))
                .union(jsc.parallelize(refused, 1));
        spark.createDataFrame(rows, ImageResult.class).write().mode(SaveMode.Append).format(format).save(resultsDir);

        // counted from what was written: evaluating the rows again would restore (or now skip) the images a second time
        // with the rows' own schema: JSON leaves null fields out, so inferring it could miss a column
        Dataset<Row> written = spark.read().schema(Encoders.bean(ImageResult.class).schema()).format(format).load(resultsDir)
                .where(col("run").equalTo(run));
        Map<String, Long> byStatus = new TreeMap<>();
        for (Row r : written.groupBy("status").count().collectAsList()) byStatus.put(r.getString(0), r.getLong(1));
        summary = new Summary(run, resultsDir, byStatus);
        PrintWriter err = new PrintWriter(System.err, true);
        for (Row r : written.where(col("status").equalTo("failed")).select("error").limit(20).collectAsList()) {
            err.println("autodir-spark: " + r.getString(0));
        }
        err.printf(Locale.ROOT, "autodir-spark: run %s: %d restored, %d skipped, %d failed; rows in %s%n", run,
                summary.count("restored"), summary.count("skipped"), summary.count("failed"), resultsDir);
        return 0;
    }

    /** The input images, each once; what gives none becomes a failed row. */
    private List<Path> collect(Configuration conf, String run, List<ImageResult> refused) {
        List<String> named = new ArrayList<>(inputs);
        if (inputList != null) named.addAll(readList(new Path(inputList), conf));
        LinkedHashSet<Path> images = new LinkedHashSet<>();
        for (String name : named) {
            Path p = qualified(new Path(name), conf);
            try {
                FileSystem fs = p.getFileSystem(conf);
                FileStatus st = fs.getFileStatus(p);
                if (!st.isDirectory()) {
                    images.add(p);
                    continue;
                }
                List<FileStatus> found = new ArrayList<>();
                for (FileStatus f : fs.listStatus(p)) {
                    String n = f.getPath().getName();
                    if (f.isFile() && !n.startsWith(".") && !n.startsWith("_") && SingleImage.isImageName(n)) found.add(f);
                }
                found.sort((a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
                if (found.isEmpty()) refused.add(ImageResult.of(run, p.toString(), null).failed(p + ": no image files directly in this folder"));
                for (FileStatus f : found) images.add(f.getPath());
            } catch (FileNotFoundException e) {
                refused.add(ImageResult.of(run, p.toString(), null).failed(p + ": no such file or folder"));
            } catch (IOException e) {
                refused.add(ImageResult.of(run, p.toString(), null).failed(p + ": cannot read: " + e.getMessage()));
            }
        }
        return new ArrayList<>(images);
    }

    /** Output paths as the command line names them; an output claimed twice, or that is an input, refuses the image. */
    private static void plan(List<Path> images, Path outRoot, String ext, String run, List<ImageTask> tasks, List<ImageResult> refused) {
        Set<String> inputNames = new LinkedHashSet<>();
        for (Path p : images) inputNames.add(p.toString());
        Map<String, String> claimed = new LinkedHashMap<>();
        for (Path p : images) {
            String out = new Path(outRoot, SingleImage.outputName(java.nio.file.Path.of(p.getName()), ext)).toString();
            String other = claimed.putIfAbsent(out, p.toString());
            if (other != null) {
                refused.add(ImageResult.of(run, p.toString(), out).failed(p + ": its output " + out + " is also the output of "
                        + other + " (same name); rename one of them"));
            } else if (inputNames.contains(out)) {
                refused.add(ImageResult.of(run, p.toString(), out).failed(p + ": its output " + out + " is an input of this job;"
                        + " refusing to overwrite it"));
            } else {
                tasks.add(new ImageTask(p.toString(), out));
            }
        }
    }

    private static List<String> readList(Path list, Configuration conf) {
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(list.getFileSystem(conf).open(list), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                String t = line.strip();
                if (!t.isEmpty() && !t.startsWith("#")) out.add(t);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("--input-list " + list + ": cannot read: " + e.getMessage(), e);
        }
        return out;
    }

    private static Path qualified(Path p, Configuration conf) {
        try {
            return p.getFileSystem(conf).makeQualified(p);
        } catch (IOException e) {
            throw new IllegalArgumentException(p + ": no file system for this path: " + e.getMessage(), e);
        }
    }
}
