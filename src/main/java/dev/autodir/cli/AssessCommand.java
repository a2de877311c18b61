package dev.autodir.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.pipeline.BIQA;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code autodir assess}: BIQA's probability for each degradation class of one image. */
@Command(name = "assess", sortOptions = false,
        description = {"Print the probability of each degradation class for one image (BIQA).", "",
                "Blind image quality assessment: CLIP scores the image against \"A photo needs {class} artifact"
                + " reduction\" for noise, blur, rain, underexposure, haze, low resolution, raindrop and no; the table"
                + " gives the softmax probability of each, the dominant one marked. The first pass of 'autodir"
                + " restore' works on the dominant class (and stops if it is \"no\"). CLIP sees the centre crop of the"
                + " image at the image's own scale (no resize), as the official code does.", ""})
final class AssessCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "An image file (PNG, JPEG, TIFF).")
    Path image;

    @Mixin EngineOptions engineOptions;

    @Option(names = "--json", description = "Print JSON instead of the table: image, size, probabilities, dominant class.")
    boolean json;

    @Override public Integer call() {
        CommandLine cl = spec.commandLine();
        AutoDIREngine.Settings settings = engineOptions.settings(cl);
        RgbImage img = RgbImageReader.read(image);                     // a bad image fails before the weights load
        BIQA.Result r;
        String backends;
        ByteArrayOutputStream notices = new ByteArrayOutputStream();
        try (PrintStream ps = new PrintStream(notices, true, StandardCharsets.UTF_8);
             AutoDIREngine engine = AutoDIREngine.open(settings, ps)) {
            r = engine.assess(img.toTensor());
            backends = engine.backends();
        } finally {
            cl.getErr().print(notices.toString(StandardCharsets.UTF_8));
            cl.getErr().flush();
        }
        PrintWriter out = cl.getOut();
        out.print(json ? json(img, r, backends) : table(img, r));
        out.flush();
        return 0;
    }

    static String table(RgbImage img, BIQA.Result r) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%s (%dx%d)%n", img.source().map(Path::toString).orElse("image"), img.width(), img.height()));
        b.append(String.format(Locale.ROOT, "%-16s %11s%n", "class", "probability"));
        for (int k = 0; k < r.classes().size(); k++) {
            b.append(String.format(Locale.ROOT, "%-16s %11.6f%s%n", r.classes().get(k), r.probability(k),
                    k == r.mainIndex() ? "  <- dominant" : ""));
        }
        return b.toString();
    }

    static String json(RgbImage img, BIQA.Result r, String backends) {
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode n = om.createObjectNode();
        n.put("image", img.source().map(p -> p.toAbsolutePath().normalize().toString()).orElse(null));
        n.put("width", img.width());
        n.put("height", img.height());
        n.put("backends", backends);
        n.set("probabilities", RestoreReport.probabilities(r));
        n.put("dominant", r.main());
        try {
            return om.writeValueAsString(n) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the assessment", e);
        }
    }
}
