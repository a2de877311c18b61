package dev.autodir.cli;

import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Precision;
import dev.autodir.golden.GoldenCases;
import dev.autodir.golden.GoldenCheck;
import dev.autodir.golden.GoldenConfig;
import dev.autodir.golden.GoldenSet;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.text.CLIPTokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code autodir golden-check}: the engine against fixtures computed by the official implementation. */
@Command(name = "golden-check",
        description = {"Run every case of a golden fixture directory (manifest.json + case_*.safetensors, the format of"
                + " shared/golden/A) that the engine knows, and print each output's error next to its tolerance:"
                + " rel-L2 for float tensors, exact for integers, max-abs for uint8 images. Cases the engine cannot"
                + " run are listed as NOT RUN. Exits 1 when any check fails."})
final class GoldenCheckCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "The fixture directory.")
    Path dir;

    @Option(names = "--weights", paramLabel = "FILE",
            description = "Weights to use instead of the file the manifest names (e.g. the .ckpt twin weights.ckpt).")
    Path weights;

    @Option(names = "--config", paramLabel = "FILE",
            description = "A YAML config for what shapes cannot tell. Default: built from the manifest's configs section.")
    Path config;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "CLIP BPE vocabulary (default: the one in the jar).")
    Path tokenizer;

    @Option(names = "--backend", paramLabel = "SPEC", defaultValue = "cpu",
            description = "cpu, cuda, onnxruntime, tensorrt, or per stage (unet=cuda,vae=cuda,scm=cuda,clip=cpu). Default: ${DEFAULT-VALUE}.")
    String backend;

    @Option(names = "--precision", paramLabel = "P", defaultValue = "fp32",
            description = "fp32 or fp16 for device backends. Where a stage runs in fp16 the tolerance is at least --fp16-tolerance. Default: ${DEFAULT-VALUE}.")
    String precision;

    @Option(names = "--strict-backend",
            description = "Fail instead of falling back to cpu when a backend cannot start (or when no stage's backend offers --precision).")
    boolean strictBackend;

    @Option(names = "--fp16-tolerance", paramLabel = "REL_L2", defaultValue = "2e-3",
            description = "The least rel-L2 tolerance applied under --precision fp16. Default: ${DEFAULT-VALUE}.")
    double fp16Tolerance;

    @Override public Integer call() {
        BackendSpec backends = BackendSpec.parse(backend);
        Precision p = Precision.parse(precision);
        GoldenSet set = GoldenSet.open(dir);
        ModelYaml yaml = config == null ? GoldenConfig.yaml(set) : ModelYaml.read(config);
        Path w = weights == null ? set.weightsFile() : weights;
        CLIPTokenizer tok = tokenizer == null ? CLIPTokenizer.loadDefault() : CLIPTokenizer.load(tokenizer);
        PrintStream out = System.out;
        CommandLine cli = spec.commandLine();
        GoldenCheck.Report report;
        try (AutoDIRModels models = AutoDIRModels.load(w, yaml);
             StageBackends ops = Notices.to(cli.getErr(), notices -> Backends.create(backends, p, strictBackend, notices));
             GoldenCases cases = new GoldenCases(models, ops, tok)) {
            // what really runs: after a fallback to cpu, the fp32 tolerances apply
            boolean fp16 = ops.report().stages().stream().anyMatch(st -> st.precision() == Precision.FP16);
            out.println("golden-check " + dir + "  weights " + w + "  backends " + ops.describe() + "  precision " + ops.report().precisions());
            report = new GoldenCheck(set, cases, fp16 ? fp16Tolerance : 0).run(out);
        }
        return report.passed() ? 0 : Main.FAILURE;
    }
}
