package dev.autodir.spark;

import dev.autodir.cli.OptionStrings;
import dev.autodir.cli.SingleImage;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.image.RgbImageWriter;
import dev.autodir.tensor.FloatTensor;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Spark job in local[2] on golden set A's tiny model: a folder of generated images with a corrupt one and one
 * whose output is already there but incomplete, run twice. The first run restores the good images (the same pixels as
 * the engine gives), fails the other two with their reasons, and opens one engine for both partitions; the second run
 * skips the done images without opening an engine and leaves every output as it was.
 */
class RestoreJobTest {
    static final Path WEIGHTS = Path.of(System.getProperty("autodir.test.weights", "../../shared/golden/A/weights.safetensors"));
    static final Path CONFIG = Path.of(System.getProperty("autodir.test.config", "../configs/golden-A.yaml"));
    static final List<String> GOOD = List.of("a.png", "b.png", "c.png");

    @TempDir static Path dir;
    static SparkSession spark;
    static Path in, out;
    static String[] args;

    @BeforeAll static void start() throws IOException {
        assumeTrue(Files.isRegularFile(WEIGHTS), "golden set A not found at " + WEIGHTS.toAbsolutePath());
        in = Files.createDirectories(dir.resolve("in"));
        out = dir.resolve("out");
        for (int i = 0; i < GOOD.size(); i++) write(in.resolve(GOOD.get(i)), 20 + 4 * i, 28 - 2 * i, 100 + i);
        write(in.resolve("d.png"), 24, 24, 200);
        Files.writeString(in.resolve("corrupt.png"), "\u0089PNG and then nothing an image needs");
        Files.createDirectories(out);
        // an output that another tool left half-written: it must be neither skipped nor replaced
        byte[] png = Files.readAllBytes(in.resolve("d.png"));
        Files.write(out.resolve("d_restored.png"), java.util.Arrays.copyOf(png, png.length / 2));
        args = new String[] {"--input", in.toString(), "--output", out.toString(), "--partitions", "2",
                "--weights", WEIGHTS.toString(), "--config", CONFIG.toString(), "--steps", "2", "--max-passes", "2", "--seed", "5"};
        spark = SparkSession.builder().master("local[2]").appName("RestoreJobTest").config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2").config("spark.sql.warehouse.dir", dir.resolve("warehouse").toString())
                .getOrCreate();
    }

    @AfterAll static void stop() {
        ExecutorEngine.close();
        if (spark != null) spark.stop();
    }

    @Test
    void restoresFailsPerImageAndARerunSkipsDoneWork() throws IOException {
        int opensBefore = ExecutorEngine.opens();
        RestoreJob.Summary first = RestoreJob.run(spark, args);
        assertEquals(Map.of("restored", 3L, "failed", 2L), first.byStatus(), "first run");
        assertEquals(opensBefore + 1, ExecutorEngine.opens(), "one engine for the executor JVM, shared by both partitions");

        Map<String, Row> rows = rows(first);
        for (String name : GOOD) {
            Row r = rows.get(name);
            assertEquals("restored", r.getAs("status"), name);
            assertNull(r.getAs("error"), name);
            int passes = r.<Integer>getAs("passes");
            assertTrue(passes >= 1 && passes <= 2, name + ": passes " + passes);
            assertEquals(passes, r.getList(r.fieldIndex("classes")).size(), name + ": a class per pass");
            assertTrue(r.<String>getAs("report").contains("\"stop_reason\""), name + ": the report");
            RgbImage restored = RgbImageReader.read(out.resolve(name.replace(".png", "_restored.png")));
            RgbImage input = RgbImageReader.read(in.resolve(name));
            assertEquals(List.of(input.width(), input.height()), List.of(restored.width(), restored.height()), name + ": size");
        }
        String corrupt = rows.get("corrupt.png").getAs("error");
        assertEquals("failed", rows.get("corrupt.png").getAs("status"));
        assertTrue(corrupt.contains("corrupt.png") && corrupt.contains("not a recognised image format"), corrupt);
        String partial = rows.get("d.png").getAs("error");
        assertTrue(partial.contains("d_restored.png: exists but is not a complete image") && partial.contains("not overwriting"), partial);
        assertTrue(Files.notExists(out.resolve("corrupt_restored.png")), "no output for the corrupt input");

        byte[] partialBytes = Files.readAllBytes(out.resolve("d_restored.png"));
        Map<String, byte[]> outputs = new HashMap<>();
        Map<String, FileTime> times = new HashMap<>();
        for (String name : GOOD) {
            Path o = out.resolve(name.replace(".png", "_restored.png"));
            outputs.put(name, Files.readAllBytes(o));
            times.put(name, Files.getLastModifiedTime(o));
        }

        // a re-run: nothing left to restore, so no engine is opened; the partial output is still refused and kept
        ExecutorEngine.close();
        int opens = ExecutorEngine.opens();
        RestoreJob.Summary second = RestoreJob.run(spark, args);
        assertEquals(Map.of("skipped", 3L, "failed", 2L), second.byStatus(), "second run");
        assertEquals(opens, ExecutorEngine.opens(), "a run with only skipped images opens no engine");
        for (String name : GOOD) {
            Path o = out.resolve(name.replace(".png", "_restored.png"));
            assertArrayEquals(outputs.get(name), Files.readAllBytes(o), name + ": output unchanged");
            assertEquals(times.get(name), Files.getLastModifiedTime(o), name + ": output not rewritten");
        }
        assertArrayEquals(partialBytes, Files.readAllBytes(out.resolve("d_restored.png")), "the partial output is kept as it was");
        assertEquals(10L, spark.read().parquet(first.results()).count(), "both runs' rows are in the results dataset");
    }

    @Test
    void theJobsOutputIsTheEnginesRestoration() throws IOException {
        Path own = dir.resolve("single");
        Files.createDirectories(own);
        Path image = write(own.resolve("e.png"), 20, 28, 300);
        Path jobOut = dir.resolve("single-out");
        RestoreJob.Summary s = RestoreJob.run(spark, "--input", image.toString(), "--output", jobOut.toString(),
                "--results-format", "json", "--weights", WEIGHTS.toString(), "--config", CONFIG.toString(), "--steps", "2",
                "--max-passes", "2", "--seed", "5");
        assertEquals(Map.of("restored", 1L), s.byStatus());
        OptionStrings.Parsed p = OptionStrings.parse(Map.of("weights", WEIGHTS.toString(), "config", CONFIG.toString(),
                "steps", "2", "max-passes", "2", "seed", "5"));
        try (AutoDIREngine engine = AutoDIREngine.open(p.settings())) {
            RgbImage input = RgbImageReader.read(image);
            FloatTensor expected = SingleImage.restore(engine, p.settings(), 0, p.restore(), input, image, null, false, null).output();
            float[] want = RgbImage.fromTensor(expected).toChwArray();
            float[] got = RgbImageReader.read(jobOut.resolve("e_restored.png")).toChwArray();
            int worst = 0;
            for (int i = 0; i < want.length; i++) {
                // compare 8-bit levels: same-seed runs agree to float rounding, which may move a value by one level
                worst = Math.max(worst, Math.abs(dev.autodir.image.Quantization.toUint8(want[i]) - dev.autodir.image.Quantization.toUint8(got[i])));
            }
            assertTrue(worst <= 1, "the job's output differs from the engine's restoration by " + worst + " levels");
        }
    }

    @Test
    void aBadOptionFailsBeforeAnyWorkNamingIt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RestoreJob.run(spark, "--input", in.toString(),
                "--output", dir.resolve("never").toString(), "--weights", WEIGHTS.toString(), "--steps", "0"));
        assertTrue(e.getMessage().contains("--steps must be in 1..1000, got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> RestoreJob.run(spark, "--input", in.toString(),
                "--output", dir.resolve("never").toString(), "--weights", WEIGHTS.toString(), "--stepz", "3"));
        assertTrue(e.getMessage().contains("--stepz"), e.getMessage());
        assertTrue(Files.notExists(dir.resolve("never")), "nothing was written");
    }

    private static Map<String, Row> rows(RestoreJob.Summary s) {
        Map<String, Row> m = new HashMap<>();
        for (Row r : spark.read().parquet(s.results()).where(col("run").equalTo(s.run())).collectAsList()) {
            String input = r.getAs("input");
            m.put(input.substring(input.lastIndexOf('/') + 1), r);
        }
        return m;
    }

    /** A PNG of a smooth seeded colour pattern plus noise (different seeds, different images). */
    static Path write(Path file, int h, int w, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double fx = 0.1 + 0.3 * r.nextDouble(), fy = 0.1 + 0.3 * r.nextDouble();
        float[] d = new float[3 * h * w];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    double v = 0.6 * Math.sin(fx * x + fy * y + 2.1 * c) + 0.2 * (r.nextDouble() - 0.5);
                    d[(c * h + y) * w + x] = (float) v;
                }
            }
        }
        return RgbImageWriter.write(new FloatTensor(d, 1, 3, h, w), file, RgbImageWriter.WriteOptions.DEFAULT);
    }
}
