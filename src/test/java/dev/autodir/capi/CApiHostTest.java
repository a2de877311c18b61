package dev.autodir.capi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.cli.SingleImage;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.engine.TinyModel;
import dev.autodir.image.Quantization;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.image.RgbImageWriter;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The C API end to end: {@code src/test/cpp/capi_host.c}, a C program linked to the libautodir.so that the build made
 * ({@code target/native}), restores an image through it (buffers of every pixel format, progress, the report,
 * cancellation, two threads, files) and checks its status paths; this test compares what it wrote with the Java
 * engine's restoration of the same pixels with the same options. Skips when no C compiler built the library.
 */
class CApiHostTest {
    static final Path NATIVE = Path.of("target", "native");
    static final int W = 44, H = 36;
    /** The options the host sets: steps 3, max-passes 2, seed 7. */
    static final RestoreOptions OPTIONS = RestoreOptions.defaults().withSteps(3).withMaxPasses(2).withSeed(7);
    /** Same-seed restorations agree to this rel L2 (AutoDIREngineTest.SAME_SEED_REL_L2: float rounding only). */
    static final double SAME_SEED_REL_L2 = 1e-4;

    @TempDir static Path dir;
    static String hostOutput;
    static byte[] input;
    static SingleImage.Result reference;

    @BeforeAll static void runHost() throws Exception {
        TinyModel.assumePresent();
        Path lib = NATIVE.resolve("lib/libautodir.so");
        assumeTrue(Files.isRegularFile(lib), lib + " was not built (no C compiler or no jni.h: see the build's notice)");

        FloatTensor image = TinyModel.image(H, W, 11);
        input = interleaved8(image);
        Files.write(dir.resolve("input.rgb"), input);
        RgbImageWriter.write(image, dir.resolve("input.png"), RgbImageWriter.WriteOptions.DEFAULT);
        Files.writeString(dir.resolve("corrupt.png"), "\u0089PNG but nothing after the signature");

        Path host = Path.of("target", "capi-test", "capi_host").toAbsolutePath();
        Files.createDirectories(host.getParent());
        run(List.of("cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread", "-I" + NATIVE.resolve("include"),
                "src/test/cpp/capi_host.c", "-o", host.toString(), "-L" + lib.getParent(), "-lautodir",
                "-Wl,-rpath," + lib.getParent().toAbsolutePath()), 120, null);

        ProcessBuilder pb = new ProcessBuilder(host.toString(), TinyModel.WEIGHTS.toAbsolutePath().toString(),
                TinyModel.yaml().toAbsolutePath().toString(), dir.toString(), String.valueOf(W), String.valueOf(H));
        pb.environment().put("AUTODIR_CLASSPATH", System.getProperty("java.class.path"));
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("AUTODIR_JVM_OPTIONS", "-Xrs -Xmx2g -XX:+UseSerialGC");
        pb.environment().remove("AUTODIR_JAR");
        hostOutput = run(pb.command(), 300, pb);

        try (AutoDIREngine engine = AutoDIREngine.open(TinyModel.settings())) {
            RgbImage decoded = PixelBuffer.of("input", 1, W, H, 3L * W, 0, ByteBuffer.wrap(input)).toImage();
            reference = SingleImage.restore(engine, TinyModel.settings(), 0, OPTIONS, decoded, null, null, false, null);
        }
    }

    @Test
    void everyStatusPathOfTheHostPassed() {
        for (String check : List.of("ok abi 1", "ok unknown key: unknown option \"stepz\"", "ok not a number", "ok out of range",
                "ok missing weights file", "ok engine without weights", "ok corrupt checkpoint: create", "ok thread-local message",
                "ok output buffer too small", "ok output of another size", "ok stride shorter than a row", "ok NULL pixels",
                "ok unknown pixel format", "ok engine key in a call", "ok cancel", "ok restore after cancel", "ok threads",
                "ok corrupt image file", "ok missing image file", "ok existing output kept", "ok output over the input",
                "ok overwrite", "ok done")) {
            assertTrue(hostOutput.contains(check), "the host did not print \"" + check + "\":\n" + hostOutput);
        }
    }

    @Test
    void rgb8ThroughCIsTheJavaEnginesRestoration() throws IOException {
        byte[] expected = interleaved8(reference.output());
        byte[] out8 = Files.readAllBytes(dir.resolve("out8.rgb"));
        assertLevelsClose(expected, out8, "out8.rgb (padded rows)");
        int changed = 0;
        for (int i = 0; i < input.length; i++) if (out8[i] != input[i]) changed++;
        assertTrue(changed > input.length / 2, "the restoration changed only " + changed + " of " + input.length + " samples");
        assertLevelsClose(expected, Files.readAllBytes(dir.resolve("again8.rgb")), "again8.rgb (after a cancelled restore)");
        assertLevelsClose(expected, Files.readAllBytes(dir.resolve("thread0.rgb")), "thread0.rgb");
        assertLevelsClose(expected, Files.readAllBytes(dir.resolve("thread1.rgb")), "thread1.rgb");
        RgbImage file = RgbImageReader.read(dir.resolve("file_out.png"));
        byte[] levels = new byte[expected.length];
        float[] chw = file.toChwArray();
        // the stored levels, exactly: v from (2v)/255 - 1 (re-quantising would truncate v to v - 1 for v in 1..63)
        for (int i = 0; i < W * H; i++) for (int c = 0; c < 3; c++) levels[3 * i + c] = (byte) Math.round((chw[c * W * H + i] + 1) * 127.5f);
        assertLevelsClose(expected, levels, "file_out.png (autodir_restore_file)");
    }

    @Test
    void floatPlanesAndSixteenBitsCarryTheRestorationUnquantised() throws IOException {
        float[] want = reference.output().data();
        ByteBuffer f = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("outf.f32"))).order(ByteOrder.nativeOrder());
        float[] got = new float[want.length];
        for (int i = 0; i < got.length; i++) got[i] = 2f * f.getFloat() - 1f;  // planes hold [0, 1]
        double e = new FloatTensor(got, want.length).relL2(new FloatTensor(want, want.length));
        assertTrue(e <= SAME_SEED_REL_L2, "float planes vs the Java engine: rel L2 " + e + " > " + SAME_SEED_REL_L2);

        // 16-bit levels 257·v are the 8-bit input's values; the output, back to [-1, 1], is the restoration to 16 bits
        ByteBuffer s = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("out16.rgb16"))).order(ByteOrder.nativeOrder());
        int plane = W * H;
        float[] got16 = new float[want.length], want16 = new float[want.length];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                got16[c * plane + i] = Quantization.fromUint16(s.getShort() & 0xFFFF);
                want16[c * plane + i] = Quantization.fromUint16(Quantization.toUint16(want[c * plane + i]));
            }
        }
        double e16 = new FloatTensor(got16, want.length).relL2(new FloatTensor(want16, want.length));
        assertTrue(e16 <= SAME_SEED_REL_L2, "16-bit output vs the Java engine: rel L2 " + e16 + " > " + SAME_SEED_REL_L2);
    }

    @Test
    void theReportIsTheCommandLinesReportOfTheImage() throws IOException {
        JsonNode report = new ObjectMapper().readTree(Files.readString(dir.resolve("report.json"), StandardCharsets.UTF_8));
        JsonNode image = report.get("images").get(0);
        assertEquals("restored", image.get("status").asText());
        assertTrue(image.get("input").isNull(), "a buffer has no input file");
        assertEquals(W, image.get("width").asInt());
        assertEquals(3, report.get("options").get("steps").asInt());
        List<String> chosen = new ArrayList<>();
        for (JsonNode p : image.get("passes")) chosen.add(p.get("chosen").asText());
        List<String> expected = new ArrayList<>();
        for (Restorer.PassResult p : reference.outcome().passes()) expected.add(p.chosenClass());
        assertEquals(expected, chosen, "the classes chosen per pass");
        assertEquals(reference.outcome().stopReason(), image.get("stop_reason").asText());
        assertTrue(hostOutput.contains("ok progress: " + expected.size() + " passes, " + 3 * expected.size() + " steps, last class "
                + expected.get(expected.size() - 1)), hostOutput);
    }

    @Test
    void theReadmesCExampleCompilesAndLinks() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        int start = readme.indexOf("```c\n");
        assertTrue(start >= 0, "README.md has no ```c block");
        String code = readme.substring(start + 5, readme.indexOf("```", start + 5));
        Path src = dir.resolve("readme_example.c");
        Files.writeString(src, code + "\nint main(void) { return 0; }\n");
        Path lib = NATIVE.resolve("lib");
        run(List.of("cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I" + NATIVE.resolve("include"), src.toString(),
                "-o", dir.resolve("readme_example").toString(), "-L" + lib, "-lautodir"), 120, null);
    }

    /** Every sample within one level (same-seed rounding may move a value across a level boundary). */
    static void assertLevelsClose(byte[] expected, byte[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        int worst = 0, differing = 0;
        for (int i = 0; i < expected.length; i++) {
            int d = Math.abs((expected[i] & 0xFF) - (actual[i] & 0xFF));
            worst = Math.max(worst, d);
            if (d > 0) differing++;
        }
        assertTrue(worst <= 1 && differing <= expected.length / 100, what + ": " + differing + " samples differ, the most by " + worst);
    }

    /** [1, 3, H, W] in [-1, 1] as tight interleaved 8-bit RGB, quantised as image files are. */
    static byte[] interleaved8(FloatTensor image) {
        int h = image.dim(2), w = image.dim(3), plane = h * w;
        float[] d = image.data();
        byte[] out = new byte[3 * plane];
        for (int i = 0; i < plane; i++) for (int c = 0; c < 3; c++) out[3 * i + c] = (byte) Quantization.toUint8(d[c * plane + i]);
        return out;
    }

    private static String run(List<String> cmd, int timeoutSeconds, ProcessBuilder pb) throws IOException, InterruptedException {
        ProcessBuilder b = pb != null ? pb : new ProcessBuilder(cmd);
        b.redirectErrorStream(true);
        Process p = b.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(cmd.get(0) + " did not finish in " + timeoutSeconds + " s");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + text);
        return text;
    }
}
