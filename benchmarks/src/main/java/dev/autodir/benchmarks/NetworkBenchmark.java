package dev.autodir.benchmarks;

import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Precision;
import dev.autodir.bench.NetworkBench;
import dev.autodir.compare.EngineSpec;
import dev.autodir.compare.Engines;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * One evaluation of each AutoDIR network at the official sizes with random weights (float32 on the cpu backend
 * by default): the UNet at a 64×64 latent (512² image), VAE encode and decode at 512², the SCM at 512²,
 * CLIP-L vision at 224 and the text tower on the 8 BIQA prompts. Each iteration is one evaluation
 * (single-shot), so the reported score is the time per evaluation; take the median of the samples.
 * Select with JMH's regex and -p, e.g. {@code -p network=unet -p backend=cuda}; engines and precisions side by side
 * with {@code -p backend=cpu,onnxruntime -p precision=fp32,int8} (int8 / fp8: the QDQ engine calibrated on the
 * bench's inputs; cpu:int8 is the float32 simulation, not a fast path).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsPrepend = {"--add-modules", "jdk.incubator.vector", "-Xmx16g", "-XX:+UseParallelGC"})
public class NetworkBenchmark {
    @Param({"unet", "vae-encode", "vae-decode", "scm", "clip-vision", "clip-text"})
    public String network;

    @Param({"512"})
    public int size;

    @Param({"cpu"})
    public String backend;

    @Param({"fp32"})
    public String precision;

    private AutoDIRModels models;
    private StageBackends backends;
    private NetworkBench bench;

    @Setup(Level.Trial)
    public void setup() {
        AutoDIRConfig cfg = AutoDIRConfig.official();
        models = new AutoDIRModels(new RandomWeightStore(cfg, 7), cfg);
        NetworkBench.Network net = NetworkBench.Network.parse(network);
        CLIPTokenizer tok = CLIPTokenizer.loadDefault();
        EngineSpec engine = new EngineSpec(backend, precision);
        backends = engine.quantized()
                // an INT8 / FP8 engine as compare opens it, calibrated on the bench's own inputs (random weights)
                ? Engines.open(engine, NetworkBench.calibrateOnInputs(models, net, size, tok), System.err)
                : Backends.create(BackendSpec.all(backend), Precision.parse(precision), System.err);
        bench = new NetworkBench(models, backends.unet(), net, size, tok);
        bench.run();                                         // converts / uploads the weights outside the measurement
    }

    @Benchmark
    public FloatTensor evaluate() {
        return bench.run();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backends.close();
        models.close();
    }
}
