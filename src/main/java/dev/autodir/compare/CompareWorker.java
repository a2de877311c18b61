package dev.autodir.compare;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.io.SafetensorsWriter;
import dev.autodir.io.WeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ConfigInference;
import dev.autodir.model.ModelYaml;
import dev.autodir.model.Networks;
import dev.autodir.model.clip.CLIPImageProcessor;
import dev.autodir.pipeline.BIQA;
import dev.autodir.pipeline.Images;
import dev.autodir.pipeline.KDiffusionSchedule;
import dev.autodir.pipeline.NetworkCache;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.SeededNoise;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.quant.Calibration;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;
import dev.autodir.text.CLIPTokenizer;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One engine of a comparison, normally in a process of its own (so its peak memory is its own and a native crash
 * takes only it down): runs the restoration {@code warmup + runs} times with the comparison's input, noise and
 * settings and records the stage times; runs each network once on the same inputs for every engine; writes the final
 * image, the network outputs and {@code result.json} into its folder. The reference engine also makes those network
 * inputs, from the image with its own float32 networks.
 */
public final class CompareWorker {
    /** Networks whose outputs are compared, in report order. */
    static final List<String> NETWORKS = List.of("biqa", "vae-encode", "unet", "vae-decode", "scm");

    /** What one worker is asked to do (written as JSON by the comparison). */
    public record Request(String weights, String config, String engine, String calibration, String image, int steps, long seed,
                          float cfgText, float cfgImage, float scmWeight, int maxPasses, int warmup, int runs,
                          boolean makeNetworkInputs, String networkInputs, String outDir) { }

    private CompareWorker() { }

    public static void main(String[] args) {
        if (args.length != 1) {
            System.err.println("usage: CompareWorker REQUEST.json");
            System.exit(2);
        }
        try {
            Request r = new ObjectMapper().readValue(Path.of(args[0]).toFile(), Request.class);
            run(r, System.err);
            System.exit(0);
        } catch (Throwable e) {
            System.err.println("autodir compare worker: " + e);
            System.exit(1);
        }
    }

    static void run(Request r, PrintStream notices) throws IOException {
        Path out = Path.of(r.outDir());
        Files.createDirectories(out);
        Map<String, Object> result = new LinkedHashMap<>();
        EngineSpec spec = EngineSpec.parse(r.engine());
        result.put("engine", spec.toString());
        Calibration calibration = r.calibration() == null ? null : Calibration.read(Path.of(r.calibration()));
        try (AutoDIRModels models = open(r)) {
            StageBackends backends;
            try {
                backends = Engines.open(spec, calibration, notices);
            } catch (Engines.Unavailable e) {
                result.put("status", "not run");
                result.put("reason", e.getMessage());
                writeJson(out.resolve("result.json"), result);
                return;
            }
            try (backends) {
                result.put("backend", backends.unet().describe());
                FloatTensor image;
                try (WeightStore f = WeightStore.open(Path.of(r.image()))) {
                    image = f.readFloat("image");
                }
                RestoreOptions opts = RestoreOptions.defaults().withSteps(r.steps()).withSeed(r.seed())
                        .withGuidance(r.cfgText(), r.cfgImage()).withScmWeight(r.scmWeight()).withMaxPasses(r.maxPasses());
                List<Map<String, Double>> runs = new ArrayList<>();
                Restorer.Outcome last = null;
                CLIPTokenizer tokenizer = CLIPTokenizer.loadDefault();
                try (Restorer restorer = new Restorer(models, backends, tokenizer)) {
                    for (int i = 0; i < r.warmup() + r.runs(); i++) {
                        last = restorer.restore(image, opts, null, null);
                        if (i >= r.warmup()) runs.add(stageTimes(last, r.steps()));
                    }
                }
                result.put("runs", runs);
                result.put("passes", last.passes().size());
                List<String> classes = new ArrayList<>();
                for (Restorer.PassResult p : last.passes()) classes.add(p.chosenClass());
                result.put("classes", classes);
                BIQA.Result first = last.passes().isEmpty() ? last.finalAssessment() : last.passes().get(0).assessment();
                Map<String, Object> tensors = new LinkedHashMap<>();
                tensors.put("final", last.finalImage());
                if (first != null) {
                    tensors.put("probs0", first.probs());
                    result.put("main0", first.main());
                }
                SafetensorsWriter.write(out.resolve("outputs.safetensors"), tensors);

                if (r.makeNetworkInputs()) SafetensorsWriter.write(Path.of(r.networkInputs()), networkInputs(models, backends, tokenizer, image, r.seed()));
                SafetensorsWriter.write(out.resolve("networks.safetensors"), runNetworks(models, backends, Path.of(r.networkInputs())));
                result.put("status", "ran");
            }
        }
        result.put("peak_rss_bytes", peakRss());
        writeJson(out.resolve("result.json"), result);
    }

    private static AutoDIRModels open(Request r) {
        if (r.weights() == null) {
            AutoDIRConfig c = AutoDIRConfig.official();
            return new AutoDIRModels(new RandomWeightStore(c, 7), c);
        }
        WeightStore store = WeightStore.open(Path.of(r.weights()));
        try {
            return new AutoDIRModels(store, ConfigInference.infer(store, r.config() == null ? ModelYaml.none() : ModelYaml.read(Path.of(r.config()))));
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /** Per stage, the sum over the passes of one restore; "unet_step" the median step; "pass" the mean pass. */
    private static Map<String, Double> stageTimes(Restorer.Outcome o, int steps) {
        Map<String, Double> m = new LinkedHashMap<>();
        List<Double> stepTimes = new ArrayList<>();
        double total = 0;
        for (Restorer.PassResult p : o.passes()) {
            p.times().asMap().forEach((k, v) -> m.merge(k, v, Double::sum));
            for (double s : p.times().stepMs()) stepTimes.add(s);
            total += p.times().totalMs();
        }
        stepTimes.sort(null);
        if (!stepTimes.isEmpty()) m.put("unet_step", stepTimes.get(stepTimes.size() / 2));
        if (!o.passes().isEmpty()) m.put("pass", total / o.passes().size());
        m.put("restore", total);
        return m;
    }

    /**
     * The inputs every engine's networks are compared on, made by the reference from the image: BIQA's prompts and
     * pixel values; the padded image for the encoder; for the UNet the noisy latent at the middle noise level of the
     * schedule (seeded noise) with the encoder's mean and BIQA's conditioning; for the decoder the scaled mean; for the
     * SCM the image with the decode of that latent.
     */
    static Map<String, Object> networkInputs(AutoDIRModels models, StageBackends b, CLIPTokenizer tokenizer, FloatTensor image, long seed) {
        Map<String, Object> in = new LinkedHashMap<>();
        int k = BIQA.CLASSES.size(), tokens = models.config().clipText().maxPositions();
        int[][] ids = new int[k][], mask = new int[k][];
        for (int i = 0; i < k; i++) {
            var t = tokenizer.encode(BIQA.prompt(BIQA.CLASSES.get(i)));
            ids[i] = BIQA.foldIds(t.ids(), models.config().clipText().vocabSize(), tokenizer.vocabularySize(), tokenizer.bosId(), tokenizer.eosId());
            mask[i] = t.attentionMask();
        }
        int size = models.config().clipVision().imageSize();
        FloatTensor pixels = CLIPImageProcessor.pixelValues(image, size, CLIPImageProcessor.MEAN, CLIPImageProcessor.STD);
        in.put("biqa/input_ids", IntTensor.of(ids));
        in.put("biqa/attention_mask", IntTensor.of(mask));
        in.put("biqa/pixel_values", pixels);
        in.put("biqa/class_bias", FloatTensor.zeros(1, k));
        FloatTensor padded = Images.reflectPad(image, models.sizeMultiple());
        in.put("vae-encode/image", padded);
        try (NetworkCache cache = new NetworkCache()) {
            Map<String, FloatTensor> biqa = run(b.clip(), cache, Networks.biqa(models, k, tokens), hostOnly(in, "biqa/"));
            Map<String, FloatTensor> enc = run(b.vae(), cache, Networks.vaeEncode(models, 1, padded.dim(2), padded.dim(3)), hostOnly(in, "vae-encode/"));
            FloatTensor mean = enc.get("mean");
            KDiffusionSchedule schedule = new KDiffusionSchedule(models.config().schedule());
            float sigma = schedule.tToSigma((schedule.size() - 1) / 2f);                // the middle of the schedule
            FloatTensor noise = new SeededNoise(seed).initial(mean.shape());
            float cIn = 1f / (float) Math.sqrt(sigma * sigma + 1f);
            float scale = (float) models.config().schedule().scaleFactor();
            int e = mean.dim(1), h = mean.dim(2), w = mean.dim(3);
            float[] x = new float[2 * e * h * w];
            for (int i = 0; i < e * h * w; i++) {
                x[i] = (mean.data()[i] * scale + noise.data()[i] * sigma) * cIn;          // z·c_in
                x[e * h * w + i] = mean.data()[i];                                        // c_concat
            }
            in.put("unet/x", new FloatTensor(x, 1, 2 * e, h, w));
            in.put("unet/timesteps", new FloatTensor(new float[] {schedule.sigmaToT(sigma)}, 1));
            in.put("unet/context", biqa.get("c_crossattn"));
            FloatTensor z = mean.copy();
            for (int i = 0; i < z.numel(); i++) z.data()[i] *= scale;
            in.put("vae-decode/z", z);
            FloatTensor decoded = Images.crop(run(b.vae(), cache, Networks.vaeDecode(models, 1, h, w), Map.of("z", z)).get("image"),
                    image.dim(2), image.dim(3));
            in.put("scm/input", Images.concatChannels(image, decoded));
            in.put("scm/scm_weight", new FloatTensor(new float[] {1f}, 1));
        }
        return in;
    }

    private static Map<String, Object> hostOnly(Map<String, Object> all, String prefix) {
        Map<String, Object> m = new LinkedHashMap<>();
        all.forEach((k, v) -> { if (k.startsWith(prefix)) m.put(k.substring(prefix.length()), v); });
        return m;
    }

    /** Each compared network on its stage's backend, on the reference's inputs; outputs as "network/output". */
    static Map<String, Object> runNetworks(AutoDIRModels models, StageBackends b, Path inputsFile) {
        Map<String, Object> out = new LinkedHashMap<>();
        try (WeightStore in = WeightStore.open(inputsFile); NetworkCache cache = new NetworkCache()) {
            int k = BIQA.CLASSES.size(), tokens = models.config().clipText().maxPositions();
            FloatTensor image = in.readFloat("vae-encode/image"), x = in.readFloat("unet/x"), z = in.readFloat("vae-decode/z");
            FloatTensor scmIn = in.readFloat("scm/input");
            Map<String, dev.autodir.backend.Network> nets = new LinkedHashMap<>();
            nets.put("biqa", Networks.biqa(models, k, tokens));
            nets.put("vae-encode", Networks.vaeEncode(models, 1, image.dim(2), image.dim(3)));
            nets.put("unet", Networks.unet(models, 1, x.dim(2), x.dim(3), in.info("unet/context").shape()[1]));
            nets.put("vae-decode", Networks.vaeDecode(models, 1, z.dim(2), z.dim(3)));
            nets.put("scm", Networks.scm(models, 1, scmIn.dim(2), scmIn.dim(3)));
            Map<String, Ops> stage = Map.of("biqa", b.clip(), "vae-encode", b.vae(), "unet", b.unet(), "vae-decode", b.vae(), "scm", b.scm());
            for (String name : NETWORKS) {
                Map<String, Object> inputs = new LinkedHashMap<>();
                for (TensorSpec s : nets.get(name).inputs()) {
                    String key = name + "/" + s.name();
                    inputs.put(s.name(), s.type() == dev.autodir.backend.DataType.INT32 ? ints(in, key) : in.readFloat(key));
                }
                run(stage.get(name), cache, nets.get(name), inputs).forEach((o, v) -> out.put(name + "/" + o, v));
            }
        }
        return out;
    }

    private static IntTensor ints(WeightStore in, String key) {
        long[] v = in.readLong(key);
        int[] d = new int[v.length];
        for (int i = 0; i < v.length; i++) d[i] = Math.toIntExact(v[i]);
        return new IntTensor(d, in.info(key).shape());
    }

    private static Map<String, FloatTensor> run(Ops ops, NetworkCache cache, dev.autodir.backend.Network net, Map<String, ?> host) {
        Map<String, Tensor> in = new LinkedHashMap<>();
        host.forEach((k, v) -> in.put(k, v instanceof IntTensor i ? ops.upload(i)
                : k.equals("timesteps") || k.equals("scm_weight") ? ops.uploadFloat32((FloatTensor) v) : ops.upload((FloatTensor) v)));
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        try {
            cache.get(ops, net).run(in).forEach((k, v) -> out.put(k, v.dataType() == dev.autodir.backend.DataType.INT32 ? null : ops.download(v)));
        } finally {
            ops.endStage();
        }
        out.values().removeIf(java.util.Objects::isNull);
        return out;
    }

    /** The process's peak resident memory (VmHWM), or −1 where /proc does not tell. */
    static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    static void writeJson(Path file, Object value) {
        try {
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(tmp.toFile(), value);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
