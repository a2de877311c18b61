package dev.autodir.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.image.RgbImageWriter;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.ColorCorrection;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.tiling.TilingOptions;
import dev.autodir.pipeline.tiling.TilingPlan;
import dev.autodir.tensor.FloatTensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/** {@code autodir restore}: the AutoDIR loop over a batch of images, with the engine loaded once. */
@Command(name = "restore", sortOptions = false,
        description = {
                "Restore images with AutoDIR; the model is loaded once for the whole batch.",
                "",
                "In the automatic mode, each pass lets BIQA (CLIP) pick the dominant"
                        + " degradation, samples the latent diffusion model conditioned on it, decodes and corrects the"
                        + " structure with the SCM; the chosen class is dropped for later passes and the loop stops when"
                        + " BIQA finds no degradation or after --max-passes. With --prompt, one pass is conditioned on"
                        + " your text instead.",
                "",
                "Each image's final output is DIR/NAME_restored.<ext> (NAME: the input's file name without its"
                        + " extension; <ext>: --format). Inputs are never overwritten; every output is written"
                        + " atomically; an existing output is kept, and that image fails, unless --overwrite. A batch"
                        + " goes on past a bad file, lists the failures at the end and exits with status 1.",
                ""},
        footer = {"",
                "Exit status: 0 every image restored; 1 an image or the run failed; 2 a bad option.",
                "Progress goes to stderr, one line per restored image to stdout."})
final class RestoreCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "IMAGE|FOLDER",
            description = "Image files (PNG, JPEG, TIFF), or folders: the png, jpg, jpeg, tif and tiff files directly"
                    + " inside (not in subfolders; sorted by name; hidden files skipped).")
    List<Path> inputs;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", defaultValue = ".",
            description = "Where outputs go; created if missing. Default: the current directory.")
    Path outputDir;

    @Mixin EngineOptions engineOptions;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "100",
            description = "Euler-ancestral sampling steps per pass, 1..1000. Default: ${DEFAULT-VALUE} (the official"
                    + " script's; its README uses 200).")
    int steps;

    @Option(names = "--cfg-text", paramLabel = "S", defaultValue = "1",
            description = "Text guidance scale. Default: ${DEFAULT-VALUE}, as in AutoDIR's README (the official script's"
                    + " own default is 7.5). With both scales 1, one UNet evaluation per step gives the guided result"
                    + " exactly; otherwise each step costs three.")
    float cfgText;

    @Option(names = "--cfg-image", paramLabel = "S", defaultValue = "1",
            description = "Image guidance scale. Default: ${DEFAULT-VALUE}, as in AutoDIR's README (the official"
                    + " script's own default is 1.5).")
    float cfgImage;

    @Option(names = "--scm-weight", paramLabel = "W", defaultValue = "1",
            description = "Weight of the SCM's correction. Default: ${DEFAULT-VALUE} (the official code; the paper uses"
                    + " 0.1 for super-resolution).")
    float scmWeight;

    @Option(names = "--max-passes", paramLabel = "N", defaultValue = "7",
            description = "At most N passes in the automatic mode, 1..7. Default: ${DEFAULT-VALUE}.")
    int maxPasses;

    @Option(names = "--prompt", paramLabel = "TEXT",
            description = "User prompt mode: one pass conditioned on TEXT (e.g. \"A photo needs haze artifact"
                    + " reduction\"), no BIQA; --max-passes does not apply.")
    String prompt;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "42",
            description = "Noise seed; every pass re-seeds with it, as the official script does. Our noise generator"
                    + " is not torch's, so a seed does not reproduce the official script's noise. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--color-correct", paramLabel = "adain|wavelet",
            description = "Match the colours of the outputs to the pass input: adain (per-channel mean and std, as the"
                    + " official script's colour correction) or wavelet (low frequencies). The uncorrected pass files"
                    + " are still written with --save-passes, beside the corrected *_colorcorrect.png ones.")
    String colorCorrect;

    @Option(names = "--tiles", paramLabel = "auto|off|N", defaultValue = "auto",
            description = "Tiling of large images. auto: a stage is tiled when running it whole would exceed --memory-budget,"
                    + " and the diffusion also above a 1024x1024 image; off: never (an image that does not fit is refused"
                    + " before work starts); N: every stage in tiles, diffusion tiles of N latent pixels (N x 8 image"
                    + " pixels), VAE and SCM tiles with cores of N x 8 pixels. Tiled VAE and SCM compute their"
                    + " normalisation statistics over the whole image, so they match the untiled result; tiled diffusion"
                    + " blends overlapping tiles with Gaussian weights. Default: ${DEFAULT-VALUE} (tiles of 64).")
    String tiles;

    @Option(names = "--tile-overlap", paramLabel = "N", defaultValue = "16",
            description = "Least overlap of neighbouring diffusion tiles in latent pixels. Default: ${DEFAULT-VALUE} (128 image pixels).")
    int tileOverlap;

    @Option(names = "--memory-budget", paramLabel = "SIZE", defaultValue = "auto",
            description = "Memory a stage may use, weights included, e.g. 16g or 12000m. auto: 2/3 of this machine's memory"
                    + " for a cpu stage, the GPU's memory less 1 GiB for a cuda stage. Default: ${DEFAULT-VALUE}.")
    String memoryBudget;

    @Option(names = "--biqa-crops", paramLabel = "N", defaultValue = "1",
            description = "BIQA's 224x224 crops per side: 1 is the official centre crop; N > 1 averages the class"
                    + " probabilities over an N x N grid of crops spread evenly over the image, corners included"
                    + " (e.g. 3: nine crops). Default: ${DEFAULT-VALUE}.")
    int biqaCrops;

    @Option(names = "--tile-batch", paramLabel = "N", defaultValue = "0", hidden = true,
            description = "Diffusion tiles per UNet call (0: 1 on cpu, 4 on cuda).")
    int tileBatch;

    @Option(names = "--save-passes",
            description = "Also write each pass under the official names, K counting from 0:"
                    + " NAME_step_K_result.png (the VAE decode) and NAME_step_K_result_w_SCM.png (after the SCM).")
    boolean savePasses;

    @Option(names = "--report", paramLabel = "FILE",
            description = "Write a JSON report: settings, backends, options; per image the input file and size, the"
                    + " files written, per pass every class probability, the chosen class and the time of each stage;"
                    + " the reason the loop stopped and the total time.")
    Path report;

    @Option(names = "--format", paramLabel = "png|jpg|tiff", defaultValue = "png",
            description = "Format of the final output (8 bits per channel). Default: ${DEFAULT-VALUE}.")
    String format;

    @Option(names = "--overwrite", description = "Replace outputs that already exist (never an input).")
    boolean overwrite;

    @Option(names = {"-q", "--quiet"}, description = "No progress on stderr (failures are still reported).")
    boolean quiet;

    @Option(names = "--progress-interval-ms", hidden = true, defaultValue = "2000",
            description = "At most one step line per this many milliseconds.")
    long progressIntervalMs;

    /** One image to restore and where its outputs go. */
    private record Job(Path input, String name, Path output, ObjectNode entry) { }

    @Override public Integer call() {
        CommandLine cl = spec.commandLine();
        PrintWriter out = cl.getOut();
        PrintWriter err = cl.getErr();

        // ---- every flag is checked before anything is loaded
        RestoreOptions options = options(cl);
        String ext = extension(cl, format);
        AutoDIREngine.Settings settings = engineOptions.settings(cl);
        if (Files.exists(outputDir) && !Files.isDirectory(outputDir)) {
            throw new CommandLine.ParameterException(cl, "-o: " + outputDir + " exists and is not a directory");
        }
        if (progressIntervalMs < 0) throw new CommandLine.ParameterException(cl, "--progress-interval-ms must be >= 0");

        InputCollector.Inputs collected = InputCollector.collect(inputs);
        Set<Path> inputIds = new HashSet<>();
        for (Path p : collected.images()) inputIds.add(identity(p));
        if (report != null) {
            if (inputIds.contains(identity(report))) throw new IllegalArgumentException("--report " + report + " is one of the inputs; refusing to write over it");
            if (Files.isDirectory(report)) throw new IllegalArgumentException("--report " + report + " is a directory");
            if (!overwrite && Files.exists(report)) {
                throw new IllegalArgumentException("--report " + report + ": already exists; not overwriting it (use --overwrite to replace it)");
            }
        }

        long start = System.nanoTime();
        RestoreReport rep = new RestoreReport(settings, options, ext, savePasses, outputDir);
        List<String> failures = new ArrayList<>();
        for (InputCollector.Problem p : collected.problems()) {
            failures.add(p.message());
            RestoreReport.failed(rep.image(p.path()), p.reason());
            err.println("autodir: " + p.message());
        }

        // ---- plan the outputs: collisions within the batch, inputs in the way, existing files
        List<Job> jobs = new ArrayList<>();
        Map<Path, Path> claimed = new HashMap<>();
        for (Path input : collected.images()) {
            String name = stem(input);
            Path output = outputDir.resolve(name + "_restored." + ext);
            ObjectNode entry = rep.image(input);
            String problem = null;
            List<Path> planned = new ArrayList<>(List.of(output));
            if (savePasses) {
                int passes = options.automatic() ? options.maxPasses() : 1;
                for (int k = 0; k < passes; k++) planned.addAll(passFiles(outputDir, name, k, options.colorCorrect()));
            }
            Path other = claimed.putIfAbsent(identity(output), input);
            if (other != null) {
                problem = "its output " + output + " is also the output of " + other + " (same name); rename one of them";
            }
            for (Path p : planned) {
                if (problem != null) break;
                if (inputIds.contains(identity(p))) problem = "its output " + p + " is an input of this batch; refusing to overwrite it";
                else if (Files.isDirectory(p)) problem = p + ": is a directory";
                else if (!overwrite && Files.exists(p)) problem = p + ": already exists; not overwriting it (use --overwrite to replace it)";
            }
            if (problem != null) {
                fail(err, failures, entry, input, problem);
            } else {
                jobs.add(new Job(input, name, output, entry));
            }
        }

        int restored = 0;
        if (!jobs.isEmpty()) {
            try {
                Files.createDirectories(outputDir);
            } catch (IOException e) {
                throw new UncheckedIOException(outputDir + ": cannot create the output directory: " + e.getMessage(), e);
            }
            try (AutoDIREngine engine = open(settings, err)) {
                rep.engineLoaded(engine.backends(), (System.nanoTime() - start) / 1e6);
                for (Job job : jobs) {
                    try {
                        restore(engine, job, options, out, err);
                        restored++;
                    } catch (RuntimeException e) {
                        fail(err, failures, job.entry(), job.input(), Main.message(e));
                    }
                }
            }
        }

        double totalMs = (System.nanoTime() - start) / 1e6;
        if (report != null) {
            Path parent = report.toAbsolutePath().getParent();
            try {
                Files.createDirectories(parent);
            } catch (IOException e) {
                throw new UncheckedIOException(parent + ": cannot create the report's directory: " + e.getMessage(), e);
            }
            AtomicFiles.writeString(report, rep.toJson(restored, failures.size(), totalMs), overwrite);
        }
        if (failures.isEmpty()) return 0;
        int total = restored + failures.size();
        err.println("autodir: " + failures.size() + " of " + total + " input" + (total == 1 ? "" : "s") + " failed:");
        for (String f : failures) err.println("autodir:   " + f);
        err.flush();
        return Main.FAILURE;
    }

    private void restore(AutoDIREngine engine, Job job, RestoreOptions options, PrintWriter out, PrintWriter err) {
        long t0 = System.nanoTime();
        RgbImage image = RgbImageReader.read(job.input());
        RestoreReport.read(job.entry(), image);
        String label = job.input().getFileName().toString();
        Restorer.Observer progress = quiet ? null : new Progress(err, label, progressIntervalMs);
        RgbImageWriter.WriteOptions write = RgbImageWriter.WriteOptions.DEFAULT.withOverwrite(overwrite).withProtectedInput(job.input());

        Restorer.Observer observer = new Restorer.Observer() {
            @Override public void onPassStart(int pass, int maxPasses) { if (progress != null) progress.onPassStart(pass, maxPasses); }
            @Override public void onAssessment(int pass, BIQA.Result a) { if (progress != null) progress.onAssessment(pass, a); }
            @Override public void onStep(int pass, int step, int steps, float sigma, float t, Ops ops, Tensor z, Tensor denoised) {
                if (progress != null) progress.onStep(pass, step, steps, sigma, t, ops, z, denoised);
            }
            @Override public void onTilingPlan(TilingPlan plan) {
                RestoreReport.tiling(job.entry(), plan);
                if (progress != null) progress.onTilingPlan(plan);
            }
            @Override public void onTile(int pass, String stage, int round, int rounds, int tile, int tiles) {
                if (progress != null) progress.onTile(pass, stage, round, rounds, tile, tiles);
            }
            @Override public void onPassEnd(int pass, Restorer.PassResult r) {
                List<Path> written = new ArrayList<>();
                if (savePasses) {
                    List<Path> names = passFiles(outputDir, job.name(), pass, options.colorCorrect());
                    written.add(RgbImageWriter.write(r.decoded(), names.get(0), write));
                    written.add(RgbImageWriter.write(r.result(), names.get(1), write));
                    if (names.size() > 2) {
                        written.add(RgbImageWriter.write(r.decodedOut(), names.get(2), write));
                        written.add(RgbImageWriter.write(r.resultOut(), names.get(3), write));
                    }
                }
                RestoreReport.pass(job.entry(), r, written);
                if (progress != null) progress.onPassEnd(pass, r);
            }
        };
        Restorer.Outcome outcome = engine.restore(image.toTensor(), options, observer);
        Path written = RgbImageWriter.write(finalOutput(outcome, options), job.output(), write);
        double ms = (System.nanoTime() - t0) / 1e6;
        RestoreReport.restored(job.entry(), outcome, written, ms);

        List<String> chosen = new ArrayList<>();
        for (Restorer.PassResult p : outcome.passes()) chosen.add(p.chosenClass() == null ? "prompt" : p.chosenClass());
        int n = outcome.passes().size();
        out.printf(Locale.ROOT, "%s -> %s (%d pass%s%s; %s; %.1f s)%n", job.input(), job.output(), n, n == 1 ? "" : "es",
                chosen.isEmpty() ? "" : ": " + String.join(", ", chosen), outcome.stopReason(), ms / 1000);
        out.flush();
    }

    /**
     * What goes into NAME_restored: what the next pass would start from (the SCM result, or the VAE decode after
     * "low resolution"), colour-corrected when asked; the input itself when no pass ran.
     */
    static FloatTensor finalOutput(Restorer.Outcome outcome, RestoreOptions options) {
        if (outcome.passes().isEmpty() || options.colorCorrect() == ColorCorrection.Mode.NONE) return outcome.finalImage();
        Restorer.PassResult last = outcome.passes().get(outcome.passes().size() - 1);
        return "low resolution".equals(last.chosenClass()) ? last.decodedOut() : last.resultOut();
    }

    /** The official per-pass names (eval_w_SCM.py), plus the colour-corrected ones its commented-out lines would write. */
    static List<Path> passFiles(Path dir, String name, int pass, ColorCorrection.Mode colorCorrect) {
        String base = name + "_step_" + pass;
        List<Path> files = new ArrayList<>(List.of(dir.resolve(base + "_result.png"), dir.resolve(base + "_result_w_SCM.png")));
        if (colorCorrect != ColorCorrection.Mode.NONE) {
            files.add(dir.resolve(base + "_result_colorcorrect.png"));
            files.add(dir.resolve(base + "_result_w_SCM_colorcorrect.png"));
        }
        return files;
    }

    private RestoreOptions options(CommandLine cl) {
        if (steps < 1 || steps > RestoreOptions.MAX_STEPS) {
            throw new CommandLine.ParameterException(cl, "--steps must be in 1.." + RestoreOptions.MAX_STEPS + ", got " + steps);
        }
        finite(cl, "--cfg-text", cfgText);
        finite(cl, "--cfg-image", cfgImage);
        finite(cl, "--scm-weight", scmWeight);
        int most = BIQA.CLASSES.size() - 1;
        if (maxPasses < 1 || maxPasses > most) {
            throw new CommandLine.ParameterException(cl, "--max-passes must be in 1.." + most + ", got " + maxPasses);
        }
        if (prompt != null && prompt.isBlank()) throw new CommandLine.ParameterException(cl, "--prompt must not be empty");
        ColorCorrection.Mode mode = ColorCorrection.Mode.NONE;
        if (colorCorrect != null) {
            try {
                mode = ColorCorrection.Mode.parse(colorCorrect);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cl, "--color-correct: " + e.getMessage());
            }
        }
        TilingOptions tiling;
        try {
            tiling = TilingOptions.parseTiles(tiles, TilingOptions.defaults());
            if (tileOverlap < 0 || tileOverlap >= tiling.latentTile()) {
                throw new IllegalArgumentException("--tile-overlap must be in 0.." + (tiling.latentTile() - 1) + " (below the tile side), got " + tileOverlap);
            }
            tiling = tiling.withOverlap(tileOverlap).withMemoryBudget(TilingOptions.parseBytes(memoryBudget))
                    .withBiqaCrops(biqaCrops).withTileBatch(tileBatch);
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            throw new CommandLine.ParameterException(cl, m.startsWith("--") ? m : "--" + flagOf(m) + ": " + m);
        }
        return new RestoreOptions(steps, cfgText, cfgImage, scmWeight, maxPasses, prompt, seed, mode, tiling);
    }

    /** Which tiling flag a TilingOptions message is about. */
    private static String flagOf(String message) {
        if (message.startsWith("tiles") || message.startsWith("tile side")) return "tiles";
        if (message.startsWith("tile overlap")) return "tile-overlap";
        if (message.startsWith("memory budget")) return "memory-budget";
        if (message.startsWith("BIQA")) return "biqa-crops";
        return "tile-batch";
    }

    private static void finite(CommandLine cl, String flag, float v) {
        if (!Float.isFinite(v)) throw new CommandLine.ParameterException(cl, flag + " must be a finite number, got " + v);
    }

    /** The file extension of a --format value. */
    static String extension(CommandLine cl, String format) {
        return switch (format.toLowerCase(Locale.ROOT)) {
            case "png" -> "png";
            case "jpg", "jpeg" -> "jpg";
            case "tif", "tiff" -> "tiff";
            default -> throw new CommandLine.ParameterException(cl, "--format: unknown format \"" + format + "\" (choose png, jpg or tiff)");
        };
    }

    /** The file name without its last extension ("photo.v2.png" → "photo.v2"). */
    static String stem(Path file) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    private static void fail(PrintWriter err, List<String> failures, ObjectNode entry, Path input, String problem) {
        String msg = problem.startsWith(input.toString()) ? problem : input + ": " + problem;
        failures.add(msg);
        RestoreReport.failed(entry, problem);
        err.println("autodir: " + msg);
        err.flush();
    }

    /** Opens the engine once for the batch; its notices (e.g. a cuda fallback) go to our stderr. */
    private static AutoDIREngine open(AutoDIREngine.Settings settings, PrintWriter err) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream notices = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            return AutoDIREngine.open(settings, notices);
        } finally {
            err.print(buf.toString(StandardCharsets.UTF_8));
            err.flush();
        }
    }

    private static Path identity(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            Path abs = p.toAbsolutePath().normalize();
            Path parent = abs.getParent();
            if (parent != null && abs.getFileName() != null) {
                try {
                    return parent.toRealPath().resolve(abs.getFileName());
                } catch (IOException ignored) {
                    // the directory does not exist either
                }
            }
            return abs;
        }
    }
}
