package dev.autodir.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.engine.TinyModel;
import dev.autodir.image.RgbImageReader;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.NetworkCache;
import dev.autodir.text.CLIPTokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code autodir assess} on golden set A's tiny model, against BIQA called directly on the cpu backend. */
class AssessCommandTest {
    /** CLI vs direct BIQA: the same float32 computation, agreeing to rounding (see AutoDIREngineTest). */
    static final double PROBABILITY_TOLERANCE = 1e-5;

    @TempDir Path dir;

    private static MainTest.Result assess(Path image, String... extra) {
        List<String> args = new ArrayList<>(List.of("assess", image.toString(), "--weights", TinyModel.WEIGHTS.toString(),
                "--config", TinyModel.yaml().toString()));
        args.addAll(List.of(extra));
        return MainTest.run(args.toArray(new String[0]));
    }

    private static BIQA.Result direct(Path image) {
        try (AutoDIRModels models = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()));
             CpuOps ops = new CpuOps()) {
            try (NetworkCache cache = new NetworkCache()) {
                return new BIQA(models, CLIPTokenizer.loadDefault(), cache).assess(ops, RgbImageReader.read(image).toTensor(), BIQA.CLASSES);
            }
        }
    }

    @Test
    void jsonHasAllEightClassesSummingToOneAndBIQAsDominantClass() throws IOException {
        Path in = TinyModel.png(dir.resolve("a.png"), 36, 44, 21);
        MainTest.Result r = assess(in, "--json");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        BIQA.Result expected = direct(in);

        assertEquals(in.toAbsolutePath().toString(), j.path("image").asText());
        assertEquals(44, j.path("width").asInt());
        assertEquals(36, j.path("height").asInt());
        List<String> classes = new ArrayList<>();
        j.path("probabilities").fieldNames().forEachRemaining(classes::add);
        assertEquals(BIQA.CLASSES, classes, "all 8 classes in the official order");
        double sum = 0;
        for (int k = 0; k < classes.size(); k++) {
            double p = j.path("probabilities").path(classes.get(k)).asDouble();
            assertEquals(expected.probability(k), p, PROBABILITY_TOLERANCE, classes.get(k));
            sum += p;
        }
        assertEquals(1.0, sum, 1e-5, "probabilities sum to 1 (float32 softmax)");
        assertEquals(expected.main(), j.path("dominant").asText());
    }

    @Test
    void theTableListsEveryClassAndMarksTheDominantOne() throws IOException {
        Path in = TinyModel.png(dir.resolve("b.png"), 40, 32, 22);
        MainTest.Result r = assess(in);
        assertEquals(0, r.code(), r.err());
        BIQA.Result expected = direct(in);
        String[] lines = r.out().split("\\R");
        assertEquals(in + " (32x40)", lines[0]);
        assertTrue(lines[1].startsWith("class") && lines[1].endsWith("probability"), lines[1]);
        assertEquals(2 + BIQA.CLASSES.size(), lines.length, r.out());
        double sum = 0;
        int marked = 0;
        for (int k = 0; k < BIQA.CLASSES.size(); k++) {
            String line = lines[2 + k];
            String cls = BIQA.CLASSES.get(k);
            assertTrue(line.startsWith(cls + " "), line);
            String rest = line.substring(cls.length()).trim();
            boolean dominant = rest.endsWith("<- dominant");
            if (dominant) {
                marked++;
                assertEquals(expected.main(), cls, "the marked class is BIQA's dominant one");
                rest = rest.substring(0, rest.length() - "<- dominant".length()).trim();
            }
            double p = Double.parseDouble(rest);
            assertTrue(rest.matches("\\d\\.\\d{6}"), "six decimals: " + line);
            assertEquals(expected.probability(k), p, PROBABILITY_TOLERANCE, cls);
            sum += p;
        }
        assertEquals(1, marked, r.out());
        assertEquals(1.0, sum, 1e-5, "printed to 6 decimals: 8 roundings of at most 5e-7");
    }

    @Test
    void aCorruptImageIsOneLineExitOneAndBadFlagsExitTwo() throws IOException {
        Path bad = Files.writeString(dir.resolve("bad.png"), "not a png");
        MainTest.Result r = assess(bad);
        assertEquals(1, r.code(), r.err());
        assertEquals("", r.out());
        assertEquals(1, r.err().split("\\R").length, r.err());
        assertTrue(r.err().startsWith("autodir: " + bad + ": ") && !r.err().contains("internal error"), r.err());

        Path in = TinyModel.png(dir.resolve("a.png"), 16, 16, 23);
        RestoreCommandTest.assertUsageError(assess(in, "--backend", "tpu"), "--backend");
        RestoreCommandTest.assertUsageError(MainTest.run("assess", in.toString()), "--weights");
        RestoreCommandTest.assertUsageError(MainTest.run("assess", "--weights", TinyModel.WEIGHTS.toString()), "IMAGE");
        MainTest.Result help = MainTest.run("assess", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("Usage: autodir assess") && help.out().contains("--json"), help.out());
    }
}
