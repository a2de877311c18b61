package dev.autodir.bench;

import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.DataType;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.Networks;
import dev.autodir.pipeline.BIQA;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.CalibrationRecorder;
import dev.autodir.quant.Calibrator;
import dev.autodir.quant.QuantRecipe;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;
import dev.autodir.text.CLIPTokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One network evaluation at a benchmark size, as the pipeline runs it: the network compiled by the backend (a CUDA
 * graph on cuda, a session on onnxruntime), with its inputs prepared once on the backend. The unit of work of
 * {@code autodir bench} and of the JMH benchmarks. {@link #run()} includes bringing the first output to the host,
 * which also waits for a device backend to finish.
 */
public final class NetworkBench implements AutoCloseable {

    public enum Network {
        UNET("unet"), VAE_ENCODE("vae-encode"), VAE_DECODE("vae-decode"), SCM("scm"), CLIP_VISION("clip-vision"),
        CLIP_TEXT("clip-text"), BIQA("biqa");

        private final String cliName;

        Network(String cliName) { this.cliName = cliName; }

        public String cliName() { return cliName; }

        public static Network parse(String s) {
            for (Network n : values()) if (n.cliName.equals(s.toLowerCase(Locale.ROOT))) return n;
            throw new IllegalArgumentException("unknown network \"" + s + "\" (choose " + String.join(", ", Networks.NAMES) + ")");
        }
    }

    private final Ops ops;
    private final Network network;
    private final int size;
    private final dev.autodir.backend.Network definition;
    private final CompiledNetwork compiled;
    private final Map<String, Tensor> inputs = new LinkedHashMap<>();
    private final List<Tensor> kept = new ArrayList<>();

    /**
     * @param size the image side in pixels (the UNet runs at size / VAE factor; CLIP uses its own sizes; clip-text
     *             encodes the 8 BIQA prompts with their masks)
     */
    public NetworkBench(AutoDIRModels models, Ops ops, Network network, int size, CLIPTokenizer tokenizer) {
        this.ops = ops;
        this.network = network;
        this.size = size;
        int tokens = models.config().clipText().maxPositions();
        this.definition = network == Network.CLIP_TEXT
                ? Networks.clipText(models, BIQA.CLASSES.size(), tokens)
                : Networks.forExport(network.cliName(), models, size);
        SplittableRandom r = new SplittableRandom(1234);
        int[][] ids = null, mask = null;
        if (network == Network.CLIP_TEXT || network == Network.BIQA) {
            int k = BIQA.CLASSES.size();
            ids = new int[k][];
            mask = new int[k][];
            for (int i = 0; i < k; i++) {
                var t = tokenizer.encode(BIQA.prompt(BIQA.CLASSES.get(i)));
                ids[i] = BIQA.foldIds(t.ids(), models.config().clipText().vocabSize(), tokenizer.vocabularySize(), tokenizer.bosId(), tokenizer.eosId());
                mask[i] = t.attentionMask();
            }
        }
        for (TensorSpec s : definition.inputs()) {
            Tensor t;
            if (s.type() == DataType.INT32) {
                t = ops.upload(IntTensor.of(s.name().equals("input_ids") ? ids : mask));
            } else if (s.name().equals("timesteps")) {
                t = ops.uploadFloat32(new FloatTensor(new float[] {500.5f}, 1));
            } else if (s.name().equals("scm_weight")) {
                t = ops.uploadFloat32(new FloatTensor(new float[] {1f}, 1));
            } else if (s.name().equals("class_bias")) {
                t = ops.uploadFloat32(FloatTensor.zeros(s.shape()));
            } else {
                t = ops.upload(random(r, s.shape()));
            }
            Tensor k = ops.keep(t);            // survives the end of each run's stage
            kept.add(k);
            inputs.put(s.name(), k);
        }
        ops.endStage();
        this.compiled = ops.compile(definition);
    }

    /**
     * A calibration of {@code network}'s quantizable layers on the bench's own seeded inputs (one float32 evaluation on
     * the cpu backend, max ranges, SmoothQuant α 0.5, the default exclusions): enough to time an INT8 / FP8 engine of
     * random weights, which no calibration image could make meaningful anyway.
     */
    public static Calibration calibrateOnInputs(AutoDIRModels models, Network network, int size, CLIPTokenizer tokenizer) {
        QuantRecipe recipe = QuantRecipe.defaults(List.of(), List.of());
        try (CpuOps cpu = new CpuOps()) {
            CalibrationRecorder rec = new CalibrationRecorder(cpu, recipe);
            try (NetworkBench b = new NetworkBench(models, rec, network, size, tokenizer)) {
                b.runEagerly(rec);
            }
            Map<String, Calibration.Layer> layers = rec.layers(1.0, 0.5);
            return new Calibration(Calibrator.weightsHash(models.store(), layers.keySet()), new Calibration.Settings(0, 1234, 1.0, 0.5, 1),
                    List.of(new Calibration.Image("bench inputs (seed 1234)", "-", size, size)), recipe.exclusions(), layers);
        }
    }

    public Network network() { return network; }

    public int size() { return size; }

    /** How the backend runs the network ("cuda (CUDA graph)", "cpu (eager)", ...). */
    public String describe() { return compiled.describe(); }

    /** One evaluation; returns the first output on the host. */
    public FloatTensor run() {
        try {
            return ops.download(compiled.run(inputs).values().iterator().next());
        } finally {
            ops.endStage();
        }
    }

    /** Time per operation kind of one evaluation (each op synchronised; see {@link OpProfiler}). */
    public String profile() {
        OpProfiler p = new OpProfiler(ops);
        runEagerly(p);
        return p.report();
    }

    /** The matrix FLOPs of one evaluation (counted once through {@link FlopCounter}). */
    public double countFlops() {
        FlopCounter counter = new FlopCounter(ops);
        runEagerly(counter);
        return counter.flops();
    }

    private void runEagerly(Ops o) {
        try {
            definition.forward(o, inputs);
        } finally {
            o.endStage();
        }
    }

    @Override public void close() {
        compiled.close();
        for (Tensor t : kept) t.close();
        kept.clear();
    }

    private static FloatTensor random(SplittableRandom r, int... shape) {
        FloatTensor t = FloatTensor.zeros(shape);
        float[] d = t.data();
        for (int i = 0; i < d.length; i++) d[i] = (float) (2 * r.nextDouble() - 1);
        return t;
    }
}
