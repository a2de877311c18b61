package dev.autodir.cli;

import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Precision;
import dev.autodir.engine.AutoDIREngine;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.quant.QuantFormat;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** The options that say how to open the engine, shared by the commands that run the model (a picocli mixin). */
final class EngineOptions {
    @Option(names = "--weights", required = true, paramLabel = "CKPT",
            description = "The AutoDIR checkpoint: a PyTorch(-Lightning) .ckpt (torch.save zip) or a .safetensors file."
                    + " Or random:tiny, seeded random weights of a tiny model of the official structure (the whole"
                    + " pipeline in seconds; noise-like output: it shows that the engine runs, not what AutoDIR"
                    + " restores), or random:official (random weights of the official sizes, for timing).")
    Path weights;

    @Option(names = "--config", paramLabel = "FILE",
            description = "An official-style YAML config (configs/generate.yaml format) for what tensor shapes cannot tell"
                    + " (head counts, schedule). Default: the official values.")
    Path config;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "CLIP BPE vocabulary: a bpe_simple_vocab_16e6.txt.gz, or a Hugging Face vocab.json + merges.txt"
                    + " (their directory or one of them). Default: the vocabulary in the jar.")
    Path tokenizer;

    @Option(names = "--backend", paramLabel = "SPEC", defaultValue = "cpu",
            description = "Backend for every stage (cpu, cuda, onnxruntime or tensorrt), or per stage, as in unet=tensorrt,vae=cuda,scm=cuda,clip=cpu;"
                    + " stages not named use cpu, or the bare name the list also gives (cuda,clip=cpu puts all but CLIP"
                    + " on cuda). A cuda or onnxruntime stage that cannot start falls back to cpu, a tensorrt stage to cuda (then cpu),"
                    + " with a notice (see --strict-backend); the report says what each stage ran on. tensorrt has not run"
                    + " on a machine with TensorRT yet (README). Default: ${DEFAULT-VALUE}.")
    String backend;

    @Option(names = "--precision", paramLabel = "fp32|fp16|int8|fp8", defaultValue = "fp32",
            description = "Precision of the stages on device backends (the cpu backend always computes in float32; asking"
                    + " for fp16 where no stage runs on a device is a notice, or an error with --strict-backend); on"
                    + " tensorrt the engines' precision (-Dautodir.tensorrt.precision=bf16 for bf16 engines)."
                    + " int8 or fp8 (with --calibration): the calibrated convolution and linear layers run quantized,"
                    + " on one backend for every stage: onnxruntime (its QDQ export), tensorrt (INT8/FP8 engines; fp8"
                    + " needs Ada or Hopper; not run here yet), cuda (linear layers and 1x1 convolutions through cuBLASLt, 3x3"
                    + " convolutions in FP16; checked by host emulation only, never run on a GPU) or cpu"
                    + " (simulated in float32: the reference, not faster). A backend that cannot run it is an error,"
                    + " never a fallback. Default: ${DEFAULT-VALUE}.")
    String precision;

    @Option(names = "--calibration", paramLabel = "FILE",
            description = "For --precision int8|fp8: the calibration JSON of `autodir calibrate` made for these weights.")
    Path calibration;

    @Option(names = "--strict-backend",
            description = "Fail (one line naming the stage and why) instead of falling back to cpu when a backend cannot"
                    + " start, or when no stage runs on a backend that offers --precision.")
    boolean strictBackend;

    /**
     * Checks every option without loading anything; a bad value is a usage error naming its flag.
     *
     * @throws CommandLine.ParameterException for a bad value (exit 2)
     */
    AutoDIREngine.Settings settings(CommandLine cl) {
        BackendSpec backends;
        try {
            backends = BackendSpec.parse(backend);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, e.getMessage()); // the message starts with "--backend"
        }
        Precision p = Precision.FP32;
        QuantFormat quantized = null;
        String lower = precision.toLowerCase(Locale.ROOT);
        if (lower.equals("int8") || lower.equals("fp8")) {
            quantized = QuantFormat.parse(lower);
            if (calibration == null) {
                throw new CommandLine.ParameterException(cl, "--precision " + lower + " needs --calibration FILE (made by `autodir calibrate`"
                        + " for these weights)");
            }
            requireFile(cl, "--calibration", calibration);
            if (!backends.equals(BackendSpec.all(backends.unet()))) {
                throw new CommandLine.ParameterException(cl, "--precision " + lower + " runs one backend for every stage: give --backend"
                        + " cpu, onnxruntime, tensorrt or cuda alone, not " + backend);
            }
        } else {
            try {
                p = Precision.parse(precision);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cl, "--precision: " + e.getMessage().replace("(expected fp32 or fp16)",
                        "(expected fp32, fp16, or int8 / fp8 with --calibration)"));
            }
            if (calibration != null) throw new CommandLine.ParameterException(cl, "--calibration is for --precision int8 or fp8");
        }
        if (RandomWeightStore.isSpec(weights)) {
            try {
                RandomWeightStore.specConfig(weights);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cl, "--weights: " + e.getMessage());
            }
            if (config != null) throw new CommandLine.ParameterException(cl, "--config does not apply to --weights " + weights + ": random weights carry their own config");
        } else {
            requireFile(cl, "--weights", weights);
        }
        if (config != null) requireFile(cl, "--config", config);
        if (tokenizer != null && !Files.exists(tokenizer)) {
            throw new CommandLine.ParameterException(cl, "--tokenizer: " + tokenizer + ": no such file or directory");
        }
        return AutoDIREngine.Settings.builder(weights).config(config).tokenizer(tokenizer).backends(backends).precision(p)
                .strictBackend(strictBackend).quantization(quantized == null ? null : new AutoDIREngine.Quantization(quantized, calibration))
                .build();
    }

    private static void requireFile(CommandLine cl, String flag, Path file) {
        if (!Files.exists(file)) throw new CommandLine.ParameterException(cl, flag + ": " + file + ": no such file");
        if (!Files.isRegularFile(file)) throw new CommandLine.ParameterException(cl, flag + ": " + file + ": not a regular file");
        if (!Files.isReadable(file)) throw new CommandLine.ParameterException(cl, flag + ": " + file + ": not readable (permissions)");
    }
}
