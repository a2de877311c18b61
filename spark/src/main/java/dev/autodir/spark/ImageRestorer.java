package dev.autodir.spark;

import dev.autodir.cli.OptionStrings;
import dev.autodir.cli.SingleImage;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.function.FlatMapFunction;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The work of one partition, on an executor: per image, skip it when its output is already there and complete,
 * otherwise read it, restore it with the executor's engine and write the output with the command line's rules; one
 * {@link ImageResult} per image, a failure included (its message, as the command line prints it).
 *
 * <p>Files on the local file system ({@code file:} or no scheme) are read and written by the command line's own
 * reader and writer: atomically (a hidden temporary file, then a link that fails if the output appeared meanwhile),
 * never over an input. On other Hadoop file systems an input is copied to a local temporary file first, and the
 * output is encoded locally and then uploaded into a hidden temporary file beside its target and renamed onto it; the
 * rename does not replace an existing file, and it is atomic where the file system's rename is (HDFS; not S3A,
 * whose rename copies).
 */
final class ImageRestorer implements FlatMapFunction<Iterator<ImageTask>, ImageResult> {
    private static final long serialVersionUID = 1L;

    private final String run;
    private final HashMap<String, String> options;
    private final HashMap<String, String> hadoopConf;

    /**
     * @param options    engine and restore options (the restore command's flags as keys), and {@code format}
     * @param hadoopConf the driver's Hadoop configuration (executors may lack its site files)
     */
    ImageRestorer(String run, Map<String, String> options, Map<String, String> hadoopConf) {
        this.run = run;
        this.options = new HashMap<>(options);
        this.hadoopConf = new HashMap<>(hadoopConf);
    }

    @Override public Iterator<ImageResult> call(Iterator<ImageTask> tasks) {
        Configuration conf = new Configuration(false);
        hadoopConf.forEach(conf::set);
        RestoreOptions restore = OptionStrings.parse(options, RestoreJob.RUN_FLAGS).restore();
        Map<String, String> engineOptions = OptionStrings.only(options, OptionStrings.Kind.ENGINE);
        List<ImageResult> out = new ArrayList<>();
        while (tasks.hasNext()) out.add(process(tasks.next(), conf, restore, engineOptions));
        return out.iterator();
    }

    private ImageResult process(ImageTask task, Configuration conf, RestoreOptions restore, Map<String, String> engineOptions) {
        ImageResult row = ImageResult.of(run, task.getInput(), task.getOutput());
        row.setExecutor(executor());
        List<Path> temporary = new ArrayList<>();
        try {
            org.apache.hadoop.fs.Path input = new org.apache.hadoop.fs.Path(task.getInput());
            org.apache.hadoop.fs.Path output = new org.apache.hadoop.fs.Path(task.getOutput());
            FileSystem outFs = output.getFileSystem(conf);
            if (outFs.exists(output)) return skipOrRefuse(row, outFs, output, temporary);

            Path localInput = local(input);
            if (localInput == null) localInput = download(input.getFileSystem(conf), input, temporary);
            RgbImage image = RgbImageReader.read(localInput);
            row.setWidth(image.width());
            row.setHeight(image.height());

            ExecutorEngine.Opened engine = ExecutorEngine.get(engineOptions);
            Path localOutput = local(output);
            Path target = localOutput;
            if (target == null) {
                Path dir = Files.createTempDirectory("autodir-out");
                temporary.add(dir);
                target = dir.resolve(output.getName());
                temporary.add(target);
            }
            SingleImage.Result r = SingleImage.restore(engine.engine(), engine.settings(), engine.loadMs(), restore, image,
                    local(input), target, false, null);
            if (localOutput == null) upload(target, outFs, output);

            row.setStatus("restored");
            List<String> classes = new ArrayList<>();
            double sample = 0;
            for (Restorer.PassResult p : r.outcome().passes()) {
                classes.add(p.chosenClass() == null ? "prompt" : p.chosenClass());
                sample += p.times().sampleMs();
            }
            row.setPasses(classes.size());
            row.setClasses(classes);
            row.setStopReason(r.outcome().stopReason());
            row.setTotalMs(r.totalMs());
            row.setSampleMs(sample);
            row.setReport(r.report());
            return row;
        } catch (RuntimeException | IOException e) {
            return row.failed(SingleImage.message(e));
        } finally {
            for (int i = temporary.size() - 1; i >= 0; i--) {
                try {
                    Files.deleteIfExists(temporary.get(i));
                } catch (IOException ignored) {
                    // best effort: a temporary file of ours
                }
            }
        }
    }

    /**
     * An output that exists is the result of an earlier run when it reads as a complete image (outputs are written
     * atomically, so a partial one comes from elsewhere): skipped. Otherwise it is kept, and the image fails saying so.
     */
    private static ImageResult skipOrRefuse(ImageResult row, FileSystem fs, org.apache.hadoop.fs.Path output, List<Path> temporary)
            throws IOException {
        Path local = local(output);
        try {
            RgbImage done = RgbImageReader.read(local != null ? local : download(fs, output, temporary));
            row.setStatus("skipped");
            row.setWidth(done.width());
            row.setHeight(done.height());
            return row;
        } catch (RuntimeException e) {
            return row.failed(output + ": exists but is not a complete image (" + SingleImage.message(e)
                    + "); not overwriting it: remove it to restore this image again");
        }
    }

    /** The java.nio path of a local file system path, or null for another file system. */
    static Path local(org.apache.hadoop.fs.Path p) {
        String scheme = p.toUri().getScheme();
        return scheme == null || scheme.equals("file") ? Path.of(p.toUri().getPath()) : null;
    }

    /** Copies a remote file into a local temporary file with the same extension (the image reader looks at content). */
    private static Path download(FileSystem fs, org.apache.hadoop.fs.Path remote, List<Path> temporary) throws IOException {
        Path dir = Files.createTempDirectory("autodir-in");
        temporary.add(dir);
        Path local = dir.resolve(remote.getName());
        temporary.add(local);
        try (InputStream in = fs.open(remote)) {
            Files.copy(in, local);
        }
        return local;
    }

    /** Uploads a finished local file beside its remote target and renames it there; never replaces a file. */
    private static void upload(Path file, FileSystem fs, org.apache.hadoop.fs.Path target) throws IOException {
        org.apache.hadoop.fs.Path temp = new org.apache.hadoop.fs.Path(target.getParent(),
                "." + target.getName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            try (FSDataOutputStream out = fs.create(temp, false)) {
                Files.copy(file, out);
            }
            if (fs.exists(target) || !fs.rename(temp, target)) {
                throw new IOException(target + ": already exists; not overwriting it");
            }
        } finally {
            if (fs.exists(temp)) fs.delete(temp, false);
        }
    }

    private static String executor() {
        try {
            return InetAddress.getLocalHost().getHostName() + "/" + ManagementFactory.getRuntimeMXBean().getPid();
        } catch (IOException e) {
            return "pid " + ManagementFactory.getRuntimeMXBean().getPid();
        }
    }
}
