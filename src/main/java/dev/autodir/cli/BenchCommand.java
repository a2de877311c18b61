package dev.autodir.cli;

import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Precision;
import dev.autodir.bench.NetworkBench;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.text.CLIPTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code autodir bench}: the median time of one network evaluation. */
@Command(name = "bench",
        description = {"Time one network evaluation (median of --runs after --warmup) at a given image size, with random"
                + " weights of the official sizes unless --weights is given. Prints the median, min and max in ms and the"
                + " achieved rate of the matrix work (convolutions, linear layers, attention) in TFLOP/s."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--network", required = true, paramLabel = "NAME",
            description = "unet (one evaluation at a size/8 latent), vae-encode, vae-decode, scm, clip-vision (its own 224), clip-text (8 prompts).")
    String network;

    @Option(names = "--size", defaultValue = "512", paramLabel = "PX", description = "Image side in pixels. Default: ${DEFAULT-VALUE}.")
    int size;

    @Option(names = "--backend", defaultValue = "cpu", paramLabel = "NAME", description = "cpu, cuda or onnxruntime. Default: ${DEFAULT-VALUE}.")
    String backend;

    @Option(names = "--precision", defaultValue = "fp32", paramLabel = "P", description = "fp32 or fp16 (device backends). Default: ${DEFAULT-VALUE}.")
    String precision;

    @Option(names = "--weights", paramLabel = "FILE", description = "A checkpoint to time instead of random weights.")
    java.nio.file.Path weights;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML config for --weights (head counts, schedule).")
    java.nio.file.Path config;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "N", description = "Untimed runs first. Default: ${DEFAULT-VALUE}.")
    int warmup;

    @Option(names = "--runs", defaultValue = "5", paramLabel = "N", description = "Timed runs. Default: ${DEFAULT-VALUE}.")
    int runs;

    @Option(names = "--profile", description = "Also print the time per operation kind of one evaluation (synchronised after each operation).")
    boolean profile;

    @Override public Integer call() {
        NetworkBench.Network net = NetworkBench.Network.parse(network);
        if (runs < 1) throw new IllegalArgumentException("--runs must be at least 1, got " + runs);
        if (warmup < 0) throw new IllegalArgumentException("--warmup must not be negative, got " + warmup);
        if (size < 1 || size > 8192) throw new IllegalArgumentException("--size must be in 1..8192, got " + size);
        BackendSpec spec = BackendSpec.parse(backend);
        if (!spec.unet().equals(spec.clip()) || !spec.unet().equals(spec.vae()) || !spec.unet().equals(spec.scm())) {
            throw new IllegalArgumentException("--backend for bench is one backend name (cpu, cuda or onnxruntime), got " + backend);
        }
        Precision p = Precision.parse(precision);
        try (AutoDIRModels models = ModelSource.open(weights, config);
             StageBackends backends = Backends.create(spec, p, System.err)) {
            Ops ops = backends.unet();
            long t0 = System.nanoTime();
            try (NetworkBench b = new NetworkBench(models, ops, net, size, CLIPTokenizer.loadDefault())) {
                compileMs = (System.nanoTime() - t0) / 1e6;
                measure(b, ops, net, p);
            }
        }
        return 0;
    }

    /** Preparing the inputs and compiling the network (on onnxruntime: recording, exporting or reusing, loading the session). */
    private double compileMs;

    private void measure(NetworkBench b, Ops ops, NetworkBench.Network net, Precision p) {
        {
            long t0 = System.nanoTime();
            b.run();                                                   // first run: weight conversion / upload
            double firstMs = (System.nanoTime() - t0) / 1e6;
            double flops = b.countFlops();
            for (int i = 1; i < warmup; i++) b.run();
            double[] ms = new double[runs];
            for (int i = 0; i < runs; i++) {
                long s = System.nanoTime();
                b.run();
                ms[i] = (System.nanoTime() - s) / 1e6;
            }
            Arrays.sort(ms);
            double median = runs % 2 == 1 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
            System.out.printf(Locale.ROOT, "%s size %d backend %s precision %s weights %s (%s)%n", net.cliName(), size, ops.name(),
                    p.name().toLowerCase(Locale.ROOT), ModelSource.describe(weights), b.describe());
            System.out.printf(Locale.ROOT, "compile %.1f ms (inputs, compiling the network), first run %.1f ms (includes weight conversion)%n",
                    compileMs, firstMs);
            System.out.printf(Locale.ROOT, "median %.2f ms  min %.2f  max %.2f  (%d runs)  %.1f GFLOP  %.2f TFLOP/s%n",
                    median, ms[0], ms[runs - 1], runs, flops / 1e9, flops / 1e12 / (median / 1e3));
            if (profile) System.out.print(b.profile());
            if (!ops.describe().equals(ops.name())) System.out.println(ops.describe());
        }
    }
}
