package dev.autodir.cli;

import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageReader;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.Calibrator;
import dev.autodir.quant.QuantRecipe;
import dev.autodir.text.CLIPTokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code autodir calibrate}: activation ranges for INT8 / FP8 engines, from the float32 reference on the user's images. */
@Command(name = "calibrate", sortOptions = false,
        description = {"Runs the float32 reference (cpu backend) over calibration images — whole restoration passes, so every",
                "network sees real inputs and the UNet every sampler timestep — and writes the input range of every quantizable",
                "convolution and linear layer (max and a percentile per tensor; SmoothQuant factors for linear layers) to a JSON",
                "file. The file names the weights' hash, the settings, the exclusions and each image's SHA-256. INT8 and FP8",
                "engines (onnxruntime, tensorrt, the simulated cpu one in `compare`) all quantize from it.",
                "Excluded by default (kept in FP16/FP32, as NVIDIA's diffusion recipes do): the UNet's conv_in, time embedding,",
                "every emb_layers, out.*, skip connections and proj_out; the VAE's first/last convs, quant convs, shortcuts and",
                "its attention; the SCM's intro/ending, depthwise and pooled 1x1 convs, down/up samplers; CLIP's patch",
                "embedding and projections. Norms and softmax are never quantized."})
public final class CalibrateCommand implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "IMAGE|FOLDER", description = "Calibration images (PNG, JPEG, TIFF) or folders of them.")
    List<Path> inputs;

    @Option(names = "--weights", required = true, paramLabel = "CKPT", description = "The AutoDIR checkpoint (.ckpt or .safetensors).")
    Path weights;

    @Option(names = "--config", paramLabel = "FILE", description = "An official-style YAML for what tensor shapes cannot tell.")
    Path config;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "The calibration JSON to write (refused if it exists, unless --overwrite).")
    Path output;

    @Option(names = "--overwrite", description = "Replace an existing output file.")
    boolean overwrite;

    @Option(names = "--steps", defaultValue = "8", paramLabel = "N", description = "Sampler steps per pass (timesteps seen by the UNet). Default: ${DEFAULT-VALUE}.")
    int steps;

    @Option(names = "--passes", defaultValue = "1", paramLabel = "N", description = "Restoration passes per image (1..7). Default: ${DEFAULT-VALUE}.")
    int passes;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "N", description = "Noise seed. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--percentile", defaultValue = "1", paramLabel = "P",
            description = "Range per tensor: 1 = the max |x| (default), e.g. 0.9999 = that percentile of |x| (outliers clip).")
    double percentile;

    @Option(names = "--smoothquant-alpha", defaultValue = "0.5", paramLabel = "A",
            description = "SmoothQuant migration strength for linear layers, 0..1 (0 turns it off). Default: ${DEFAULT-VALUE}.")
    double alpha;

    @Option(names = "--exclude", paramLabel = "GLOB", description = "Also keep these layers unquantized (glob on the weight key without .weight; * within a name, ** across). Repeatable.")
    List<String> exclude = new ArrayList<>();

    @Option(names = "--include", paramLabel = "GLOB", description = "Quantize layers a default exclusion keeps (give the default pattern as listed). Repeatable.")
    List<String> include = new ArrayList<>();

    @Override public Integer call() {
        if (steps < 1 || steps > 1000) throw new CommandLine.ParameterException(spec.commandLine(), "--steps must be in 1..1000, got " + steps);
        if (passes < 1 || passes > 7) throw new CommandLine.ParameterException(spec.commandLine(), "--passes must be in 1..7, got " + passes);
        if (Files.exists(output) && !overwrite) throw new IllegalArgumentException(output + " exists (use --overwrite to replace it)");
        QuantRecipe recipe = QuantRecipe.defaults(exclude, include);
        InputCollector.Inputs found = InputCollector.collect(inputs);
        if (!found.problems().isEmpty()) {
            InputCollector.Problem first = found.problems().get(0);
            throw new IllegalArgumentException(first.path() + ": " + first.reason());
        }
        List<Calibrator.Input> images = new ArrayList<>();
        for (Path p : found.images()) {
            RgbImage img = RgbImageReader.read(p);
            images.add(new Calibrator.Input(img.toTensor(), new Calibration.Image(p.toString(), sha256(p), img.width(), img.height())));
        }
        if (images.isEmpty()) throw new IllegalArgumentException("no calibration images found in " + inputs);
        Calibration c;
        try (AutoDIRModels models = AutoDIRModels.load(weights, config == null ? ModelYaml.none() : ModelYaml.read(config))) {
            c = Calibrator.calibrate(models, CLIPTokenizer.loadDefault(), images, recipe,
                    new Calibration.Settings(steps, seed, percentile, alpha, passes));
        }
        c.write(output);
        spec.commandLine().getOut().printf(Locale.ROOT, "calibration of %d layers from %d image(s) written to %s (hash %s)%n",
                c.layers().size(), images.size(), output, c.hash());
        return 0;
    }

    static String sha256(Path p) {
        try (InputStream in = new DigestInputStream(Files.newInputStream(p), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (IOException e) {
            throw new UncheckedIOException(p + ": " + e.getMessage(), e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
