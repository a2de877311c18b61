package dev.autodir.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.image.RgbImageWriter;
import dev.autodir.model.ScheduleConfig;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.ColorCorrection;
import dev.autodir.pipeline.KDiffusionSchedule;
import dev.autodir.pipeline.MemoryEstimate;
import dev.autodir.pipeline.NeedResize;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.Sampler;
import dev.autodir.pipeline.SigmaSchedule;
import dev.autodir.pipeline.tiling.TilingOptions;
import dev.autodir.pipeline.tiling.TilingPlan;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
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
                        + " extension; <ext>: --format; --suffix and --name-template change the _restored part). When"
                        + " inputs of one batch share a NAME (noise.png, noise.tiff), each gets its extension appended"
                        + " (noise_png, noise_tiff), and any still alike (one file name in two folders) _2, _3, ... in"
                        + " batch order. Inputs are never overwritten; every output is written atomically; an existing"
                        + " output is kept, and that image fails, unless --overwrite. A batch goes on past a bad file"
                        + " (unreadable, too large for memory, or a stage that produced NaN), lists the failures at the"
                        + " end and exits with status 1.",
                "",
                "To resume a batch that was stopped (killed, crashed, out of memory), run the same command with"
                        + " --skip-existing: images whose final output exists are skipped, the others are redone."
                        + " Temporary files a killed run left in DIR (.NAME.autodir-PID-N.tmp) are removed. Files in"
                        + " DIR that are outputs of this command (NAME_restored.*, NAME_step_K_result*.png) are not"
                        + " taken as inputs when DIR is also an input folder.",
                ""},
        footer = {"",
                "Exit status: 0 every image restored; 1 an image or the run failed; 2 a bad option.",
                "Progress goes to stderr, one line per restored image to stdout.",
                "Set AUTODIR_DEBUG=1 to add the stack trace of each failure."})
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
            description = "Sampling steps per pass, 1..1000. Default: ${DEFAULT-VALUE} (the official"
                    + " script's; its README uses 200).")
    int steps;

    @Option(names = "--sampler", paramLabel = "NAME", defaultValue = "euler_a",
            description = "The sampler, with k-diffusion's names and semantics: euler_a (sample_euler_ancestral, AutoDIR's),"
                    + " euler, heun (2 evaluations per step), dpmpp_2m, dpmpp_sde (2 evaluations and 2 noise draws per"
                    + " step; our seeded noise stands in for k-diffusion's Brownian tree), or ddim (ldm's DDIMSampler, eta 0;"
                    + " with the default schedule its uniform timesteps: 31 steps for --steps 30). Default: ${DEFAULT-VALUE}.")
    String sampler;

    @Option(names = "--schedule", paramLabel = "NAME", defaultValue = "default",
            description = "Noise levels: default (the model's own: k-diffusion's get_sigmas, or ldm's DDIM timesteps for"
                    + " ddim), karras (get_sigmas_karras, rho 7) or exponential (get_sigmas_exponential), between the"
                    + " model's smallest and largest sigma. Default: ${DEFAULT-VALUE}.")
    String schedule;

    @Option(names = "--cfg-text", paramLabel = "S", defaultValue = "1",
            description = "Text guidance scale. Default: ${DEFAULT-VALUE}, as in AutoDIR's README (the official script's"
                    + " own default is 7.5). With both scales 1, one UNet evaluation per step gives the guided result"
                    + " exactly; otherwise each step costs three. Range: 0..50.")
    float cfgText;

    @Option(names = "--cfg-image", paramLabel = "S", defaultValue = "1",
            description = "Image guidance scale. Default: ${DEFAULT-VALUE}, as in AutoDIR's README (the official"
                    + " script's own default is 1.5). Range: 0..50.")
    float cfgImage;

    @Option(names = "--scm-weight", paramLabel = "W", defaultValue = "1",
            description = "Weight of the SCM's correction. Default: ${DEFAULT-VALUE} (the official code; the paper uses"
                    + " 0.1 for super-resolution). Range: 0..10.")
    float scmWeight;

    @Option(names = "--max-passes", paramLabel = "N", defaultValue = "7",
            description = "At most N passes in the automatic mode, 1..7. Default: ${DEFAULT-VALUE}.")
    int maxPasses;

    @Option(names = "--prompt", paramLabel = "TEXT",
            description = "User prompt mode: one pass conditioned on TEXT (e.g. \"A photo needs haze artifact"
                    + " reduction\"), no BIQA; --max-passes does not apply.")
    String prompt;

    @Option(names = "--need-resize",
            description = "As the official script's --need-resize: an image with a side below --resolution is scaled up"
                    + " (PIL's Lanczos, ImageOps.fit) to cover it, then a --resolution square is cut; here the centre"
                    + " square (the official script cuts at a random place). Outputs have that size.")
    boolean needResize;

    @Option(names = "--resolution", paramLabel = "PX", defaultValue = "768",
            description = "The side of the --need-resize square. Default: ${DEFAULT-VALUE} (the official script's).")
    int resolution;

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
                    + " and the diffusion and the VAE also above a 128x128 latent (a 1024x1024 image with the official"
                    + " VAE), where their attention grows with the square of the pixels; off: never (an image that does not fit is refused"
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
            description = "Format of the final output. Default: ${DEFAULT-VALUE}.")
    String format;

    @Option(names = "--bit-depth", paramLabel = "8|16|input", defaultValue = "8",
            description = "Bits per sample of every file written: 8, 16 (PNG and TIFF only), or input (16 for 16-bit inputs,"
                    + " else 8; PNG and TIFF only). Default: ${DEFAULT-VALUE}, as the official script writes.")
    String bitDepth;

    @Option(names = "--jpeg-quality", paramLabel = "1..100",
            description = "JPEG quality of the final output with --format jpg (4:2:0 chroma subsampling). Default: 95.")
    Integer jpegQuality;

    @Option(names = "--suffix", paramLabel = "TEXT",
            description = "What follows NAME in the final output's name, instead of _restored (e.g. --suffix _clean gives"
                    + " NAME_clean.png; --suffix '' gives NAME.png).")
    String suffix;

    @Option(names = "--name-template", paramLabel = "TEMPLATE",
            description = "The final output's name without its extension, {name} standing for NAME (e.g."
                    + " restored_{name}). Default: {name}_restored.")
    String nameTemplate;

    @Option(names = "--overwrite", description = "Replace outputs that already exist (never an input).")
    boolean overwrite;

    @Option(names = "--skip-existing",
            description = "Skip the images whose final output already exists (and redo the others, replacing the pass"
                    + " files a stopped run left): the way to resume a batch. Not with --overwrite.")
    boolean skipExisting;

    @Option(names = {"-q", "--quiet"}, description = "No progress on stderr (failures are still reported).")
    boolean quiet;

    @Option(names = "--progress-interval-ms", hidden = true, defaultValue = "2000",
            description = "At most one step line per this many milliseconds.")
    long progressIntervalMs;

    /** One image to restore and where its outputs go. */
    private record Job(Path input, String name, Path output, ObjectNode entry) { }

    /** How the files of one run are written: the template of the final output, bits per sample, JPEG quality. */
    private record Writing(String template, String bitDepth, float jpegQuality) {
        /** The write options of an image whose source has {@code sourceBits} bits per sample. */
        RgbImageWriter.WriteOptions options(int sourceBits) {
            int bits = bitDepth.equals("input") ? (sourceBits > 8 ? 16 : 8) : Integer.parseInt(bitDepth);
            return RgbImageWriter.WriteOptions.DEFAULT.withBitDepth(bits).withJpegQuality(jpegQuality);
        }
    }

    @Override public Integer call() {
        CommandLine cl = spec.commandLine();
        PrintWriter out = cl.getOut();
        PrintWriter err = cl.getErr();

        // ---- every flag is checked before anything is loaded
        RestoreOptions options = options(cl);
        String ext = extension(cl, format);
        Writing writing = writing(cl, ext);
        AutoDIREngine.Settings settings = engineOptions.settings(cl);
        if (Files.exists(outputDir) && !Files.isDirectory(outputDir)) {
            throw new CommandLine.ParameterException(cl, "-o: " + outputDir + " exists and is not a directory");
        }
        if (progressIntervalMs < 0) throw new CommandLine.ParameterException(cl, "--progress-interval-ms must be >= 0");
        if (overwrite && skipExisting) throw new CommandLine.ParameterException(cl, "--overwrite and --skip-existing exclude each other");

        InputCollector.Inputs collected = InputCollector.collect(inputs);
        List<Path> images = new ArrayList<>();
        Path outputId = identity(outputDir);
        for (Path p : collected.images()) {
            // a re-run with -o pointing at the input folder would take x_restored.png for a new input
            if (isOurOutput(p.getFileName().toString()) && outputId.equals(identity(p.toAbsolutePath().getParent()))) {
                err.println("autodir: not restoring " + p + ": it is an output of this command in the output folder"
                        + " (-o is also where the inputs are)");
                continue;
            }
            images.add(p);
        }
        Set<Path> inputIds = new HashSet<>();
        for (Path p : collected.images()) inputIds.add(identity(p)); // those not restored are still never written
        if (report != null) {
            if (inputIds.contains(identity(report))) throw new IllegalArgumentException("--report " + report + " is one of the inputs; refusing to write over it");
            if (Files.isDirectory(report)) throw new IllegalArgumentException("--report " + report + " is a directory");
            if (!overwrite && Files.exists(report)) {
                throw new IllegalArgumentException("--report " + report + ": already exists; not overwriting it (use --overwrite to replace it)");
            }
        }

        long start = System.nanoTime();
        RestoreReport rep = new RestoreReport(settings, options, ext, savePasses, outputDir);
        rep.writing(writing.template(), writing.bitDepth(), ext.equals("jpg") ? Math.round(writing.jpegQuality() * 100) : null);
        List<String> failures = new ArrayList<>();
        for (InputCollector.Problem p : collected.problems()) {
            failures.add(p.message());
            RestoreReport.failed(rep.image(p.path()), p.reason());
            err.println("autodir: " + p.message());
        }

        // ---- plan the outputs: collisions within the batch, inputs in the way, existing files
        List<Job> jobs = new ArrayList<>();
        Map<Path, Path> claimed = new HashMap<>();
        Set<Path> plannedIds = new HashSet<>();
        int skipped = 0;
        List<String> names = OutputNames.names(images);
        for (int i = 0; i < names.size(); i++) {
            Path input = images.get(i);
            String name = names.get(i);
            Path output = outputDir.resolve(OutputNames.output(writing.template(), name, ext));
            ObjectNode entry = rep.image(input);
            String problem = null;
            List<Path> planned = new ArrayList<>(List.of(output));
            if (savePasses) {
                int passes = options.automatic() ? options.maxPasses() : 1;
                for (int k = 0; k < passes; k++) planned.addAll(passFiles(outputDir, name, k, options.colorCorrect()));
            }
            for (Path p : planned) plannedIds.add(identity(p));
            if (skipExisting && Files.isRegularFile(output) && !claimed.containsKey(identity(output))) {
                skipped++;
                RestoreReport.skipped(entry, output);
                if (!quiet) err.println("autodir: skipping " + input + ": its output " + output + " exists (--skip-existing)");
                continue;
            }
            for (Path p : planned) {
                Path other = claimed.putIfAbsent(identity(p), input);
                if (other != null) problem = "its output " + p + " is also an output of " + other + "; rename one of them";
                if (problem != null) break;
                if (inputIds.contains(identity(p))) problem = "its output " + p + " is an input of this batch; refusing to overwrite it";
                else if (Files.isDirectory(p)) problem = p + ": is a directory";
                else if (!overwrite && Files.exists(p) && !(skipExisting && !p.equals(output))) {
                    problem = p + ": already exists; not overwriting it (use --overwrite to replace it, or --skip-existing to resume)";
                }
            }
            if (problem != null) {
                fail(err, failures, entry, input, problem);
            } else {
                jobs.add(new Job(input, name, output, entry));
            }
        }

        if (report != null && plannedIds.contains(identity(report))) {
            throw new CommandLine.ParameterException(cl, "--report " + report + " is also an output image of this batch;"
                    + " the JSON would replace the image: choose another file");
        }
        List<String> targets = new ArrayList<>();
        for (Path p : plannedIds) targets.add(p.getFileName().toString());
        for (Path stale : dev.autodir.image.TempFiles.removeStale(outputDir, targets)) {
            if (!quiet) err.println("autodir: removed " + stale + ", a temporary file left by a run that was stopped");
        }

        int restored = 0;
        if (!jobs.isEmpty()) {
            try {
                Files.createDirectories(outputDir);
            } catch (IOException e) {
                throw new UncheckedIOException(outputDir + ": cannot create the output directory: " + e.getMessage(), e);
            }
            try (AutoDIREngine engine = open(settings, err)) {
                rep.engineLoaded(engine.backendReport(), (System.nanoTime() - start) / 1e6);
                for (Job job : jobs) {
                    // any one image may fail, even of an Error (memory), and the batch goes on
                    try {
                        restore(engine, job, options, writing, out, err);
                        restored++;
                    } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
                        fail(err, failures, job.entry(), job.input(), Main.message(e));
                        if (Main.debug()) {
                            e.printStackTrace(err);
                            err.flush();
                        }
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
        if (skipped > 0 && !quiet) err.println("autodir: " + restored + " restored, " + skipped + " skipped (output exists), "
                + failures.size() + " failed");
        if (failures.isEmpty()) return 0;
        int total = restored + skipped + failures.size();
        err.println("autodir: " + failures.size() + " of " + total + " input" + (total == 1 ? "" : "s") + " failed:");
        for (String f : failures) err.println("autodir:   " + f);
        err.flush();
        return Main.FAILURE;
    }

    private void restore(AutoDIREngine engine, Job job, RestoreOptions options, Writing writing, PrintWriter out, PrintWriter err) {
        long t0 = System.nanoTime();
        int[] size = RgbImageReader.size(job.input());
        if (options.resize() > 0) {                                   // the restoration runs on the --need-resize square
            NeedResize.checkCover(size[0], size[1], options.resize());
            size = new int[] {options.resize(), options.resize()};
        }
        String backends = "," + engine.backends() + ",";
        if (options.tiling().mode() == TilingOptions.Mode.OFF) {
            // untiled, the whole image's activations must fit the heap: refused before the image is decoded. With
            // tiling the restorer's plan checks every stage (tiled where needed) before work starts.
            MemoryEstimate need = MemoryEstimate.of(engine.config(), size[0], size[1], options.automatic() ? options.maxPasses() : 1,
                    stage -> backends.contains("," + stage + "=cpu,"));
            String tooLarge = need.problem(Runtime.getRuntime().maxMemory());
            if (tooLarge != null) throw new IllegalArgumentException(tooLarge);
        }
        RgbImage image = RgbImageReader.read(job.input());
        RestoreReport.read(job.entry(), image);
        String label = job.input().getFileName().toString();
        Progress progress = quiet ? null : new Progress(err, label, progressIntervalMs);
        RgbImageWriter.WriteOptions write = writing.options(image.sourceBitDepth()).withOverwrite(overwrite).withProtectedInput(job.input());
        // resuming: the pass files of an image that did not finish are replaced (they are this command's own)
        RgbImageWriter.WriteOptions writePass = write.withOverwrite(overwrite || skipExisting);

        Restorer.Observer observer = new Restorer.Observer() {
            @Override public void onPassStart(int pass, int maxPasses) { if (progress != null) progress.onPassStart(pass, maxPasses); }
            @Override public void onAssessment(int pass, BIQA.Result a) { if (progress != null) progress.onAssessment(pass, a); }
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
                    written.add(RgbImageWriter.write(r.decoded(), names.get(0), writePass));
                    written.add(RgbImageWriter.write(r.result(), names.get(1), writePass));
                    if (names.size() > 2) {
                        written.add(RgbImageWriter.write(r.decodedOut(), names.get(2), writePass));
                        written.add(RgbImageWriter.write(r.resultOut(), names.get(3), writePass));
                    }
                }
                RestoreReport.pass(job.entry(), r, written);
                if (progress != null) progress.onPassEnd(pass, r);
            }
        };
        Restorer.Outcome outcome = engine.restore(image.toTensor(), options, observer, progress, null);
        Path written = RgbImageWriter.write(AutoDIREngine.finalOutput(outcome, options), job.output(), write);
        double ms = (System.nanoTime() - t0) / 1e6;
        RestoreReport.restored(job.entry(), outcome, written, ms);

        List<String> chosen = new ArrayList<>();
        for (Restorer.PassResult p : outcome.passes()) chosen.add(p.chosenClass() == null ? "prompt" : p.chosenClass());
        int n = outcome.passes().size();
        out.printf(Locale.ROOT, "%s -> %s (%d pass%s%s; %s; %.1f s)%n", job.input(), job.output(), n, n == 1 ? "" : "es",
                chosen.isEmpty() ? "" : ": " + String.join(", ", chosen), outcome.stopReason(), ms / 1000);
        out.flush();
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

    /** The restore options of the parsed flags, checked (a bad value is a usage error naming its flag); also {@link OptionStrings}'. */
    RestoreOptions options(CommandLine cl) {
        if (steps < 1 || steps > RestoreOptions.MAX_STEPS) {
            throw new CommandLine.ParameterException(cl, "--steps must be in 1.." + RestoreOptions.MAX_STEPS + ", got " + steps);
        }
        range(cl, "--cfg-text", cfgText, RestoreOptions.MAX_GUIDANCE);
        range(cl, "--cfg-image", cfgImage, RestoreOptions.MAX_GUIDANCE);
        range(cl, "--scm-weight", scmWeight, RestoreOptions.MAX_SCM_WEIGHT);
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
        Sampler chosen;
        SigmaSchedule levels;
        try {
            chosen = Sampler.parse(sampler);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, "--sampler: " + e.getMessage());
        }
        try {
            levels = SigmaSchedule.parse(schedule);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, "--schedule: " + e.getMessage());
        }
        try {
            chosen.sigmas(new KDiffusionSchedule(ScheduleConfig.official()), levels, steps);   // ddim refuses some step counts
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, "--steps " + steps + ": " + e.getMessage());
        }
        if (needResize && (resolution < NeedResize.MIN_SIDE || resolution > NeedResize.MAX_SIDE)) {
            throw new CommandLine.ParameterException(cl, "--resolution must be in " + NeedResize.MIN_SIDE + ".." + NeedResize.MAX_SIDE
                    + ", got " + resolution);
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
        return new RestoreOptions(steps, cfgText, cfgImage, scmWeight, maxPasses, prompt, seed, mode, chosen, levels,
                needResize ? resolution : 0, tiling);
    }

    /** Which tiling flag a TilingOptions message is about. */
    private static String flagOf(String message) {
        if (message.startsWith("tiles") || message.startsWith("tile side")) return "tiles";
        if (message.startsWith("tile overlap")) return "tile-overlap";
        if (message.startsWith("memory budget")) return "memory-budget";
        if (message.startsWith("BIQA")) return "biqa-crops";
        return "tile-batch";
    }

    private static void range(CommandLine cl, String flag, float v, float max) {
        if (!(v >= 0 && v <= max)) throw new CommandLine.ParameterException(cl, flag + " must be in 0.." + max + ", got " + v);
    }

    private static final java.util.regex.Pattern OUTPUT_NAME =
            java.util.regex.Pattern.compile(".+(_restored\\.(png|jpg|tiff)|_step_\\d+_result(_w_SCM)?(_colorcorrect)?\\.png)");

    /** Whether a file name is one this command writes (a final output or a pass file). */
    static boolean isOurOutput(String fileName) {
        return OUTPUT_NAME.matcher(fileName).matches();
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

    /** The --suffix, --name-template, --bit-depth and --jpeg-quality values, checked (a bad one is a usage error). */
    private Writing writing(CommandLine cl, String ext) {
        if (suffix != null && nameTemplate != null) {
            throw new CommandLine.ParameterException(cl, "--suffix and --name-template: give one of them (--suffix S is --name-template {name}S)");
        }
        String template = suffix != null ? OutputNames.NAME + suffix : nameTemplate != null ? nameTemplate : OutputNames.DEFAULT_TEMPLATE;
        try {
            OutputNames.checkTemplate(template);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, (suffix != null ? "--suffix: " : "--name-template: ") + e.getMessage());
        }
        String bits = bitDepth.toLowerCase(Locale.ROOT);
        if (!List.of("8", "16", "input").contains(bits)) {
            throw new CommandLine.ParameterException(cl, "--bit-depth must be 8, 16 or input, got \"" + bitDepth + "\"");
        }
        if (!bits.equals("8") && ext.equals("jpg")) {
            throw new CommandLine.ParameterException(cl, "--bit-depth " + bits + ": JPEG is 8-bit only (use --format png or tiff)");
        }
        if (jpegQuality != null && !ext.equals("jpg")) {
            throw new CommandLine.ParameterException(cl, "--jpeg-quality applies to --format jpg only (the format is " + ext + ")");
        }
        int quality = jpegQuality == null ? Math.round(RgbImageWriter.WriteOptions.DEFAULT.jpegQuality() * 100) : jpegQuality;
        if (quality < 1 || quality > 100) throw new CommandLine.ParameterException(cl, "--jpeg-quality must be in 1..100, got " + quality);
        return new Writing(template, bits, quality / 100f);
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
        return Notices.to(err, notices -> AutoDIREngine.open(settings, notices));
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
