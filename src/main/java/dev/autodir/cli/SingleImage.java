package dev.autodir.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.image.RgbImage;
import dev.autodir.image.RgbImageWriter;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.tensor.FloatTensor;

import java.nio.file.Path;
import java.util.List;

/**
 * One image restored as {@code autodir restore} restores each image of a batch, for programs that embed the engine
 * (the C API, the Spark job): the command's final output ({@code NAME_restored}), written with its rules (atomically,
 * never over the input, an existing file kept unless overwrite), and its JSON report ({@code --report}) of a batch of
 * this one image.
 */
public final class SingleImage {
    /**
     * @param outcome the passes
     * @param output  what the command writes to NAME_restored
     * @param written the file written (absolute), or null when no file was asked for
     * @param report  the JSON of {@code --report} for this image
     * @param totalMs wall time of the restoration and the write
     */
    public record Result(Restorer.Outcome outcome, FloatTensor output, Path written, String report, double totalMs) { }

    private SingleImage() { }

    /**
     * Restores {@code image} and, when {@code output} is not null, writes the final output there.
     *
     * @param settings  what the engine was opened with (for the report)
     * @param loadMs    how long the engine took to open (for the report)
     * @param input     the file the image was read from, or null (a buffer)
     * @param output    where to write the final output (its extension picks the format), or null for none
     * @param overwrite replace an existing output
     * @param observer  also sees the restoration (may be null)
     */
    public static Result restore(AutoDIREngine engine, AutoDIREngine.Settings settings, double loadMs, RestoreOptions options,
                                 RgbImage image, Path input, Path output, boolean overwrite, Restorer.Observer observer) {
        long t0 = System.nanoTime();
        String ext = output == null ? null : RestoreCommand.extension(null, RgbImageWriter.Format.ofFileName(output).name());
        RestoreReport rep = new RestoreReport(settings, options, ext, false, output == null ? null : output.toAbsolutePath().getParent());
        rep.engineLoaded(engine.backendReport(), loadMs);
        ObjectNode entry = rep.image(input);
        RestoreReport.read(entry, image);
        Restorer.Observer inner = observer == null ? new Restorer.Observer() { } : observer;
        Restorer.Observer recording = new Restorer.Observer() {
            @Override public void onPassStart(int pass, int maxPasses) { inner.onPassStart(pass, maxPasses); }
            @Override public void onAssessment(int pass, BIQA.Result a) { inner.onAssessment(pass, a); }
            @Override public void onConditioning(int pass, FloatTensor cConcat, FloatTensor cCrossattn, float[] sigmas) {
                inner.onConditioning(pass, cConcat, cCrossattn, sigmas);
            }
            @Override public void onStep(int pass, int step, int steps, float sigma, float t, dev.autodir.backend.Ops ops,
                                         dev.autodir.backend.Tensor z, dev.autodir.backend.Tensor denoised) {
                inner.onStep(pass, step, steps, sigma, t, ops, z, denoised);
            }
            @Override public void onPassEnd(int pass, Restorer.PassResult r) {
                RestoreReport.pass(entry, r, List.of());
                inner.onPassEnd(pass, r);
            }
        };
        Restorer.Outcome outcome = engine.restore(image.toTensor(), options, recording);
        FloatTensor finalImage = AutoDIREngine.finalOutput(outcome, options);
        Path written = null;
        if (output != null) {
            RgbImageWriter.WriteOptions write = RgbImageWriter.WriteOptions.DEFAULT.withOverwrite(overwrite).withProtectedInput(input);
            written = RgbImageWriter.write(finalImage, output, write);
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        RestoreReport.restored(entry, outcome, written, ms);
        return new Result(outcome, finalImage, written, rep.toJson(1, 0, ms), ms);
    }

    /** The output file name the command gives an input: NAME_restored.EXT (NAME: the file name without its extension). */
    public static String outputName(Path input, String extension) {
        return OutputNames.stem(input) + "_restored." + extension;
    }

    /** Whether a folder's file is an image the command takes (by extension: png, jpg, jpeg, tif, tiff). */
    public static boolean isImageName(String fileName) {
        return InputCollector.hasImageExtension(fileName);
    }

    /** The command's one-line message of a failure (what {@code autodir: ...} prints). */
    public static String message(Throwable e) {
        return Main.message(e);
    }
}
