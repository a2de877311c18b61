package dev.autodir.quant;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.io.WeightStore;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.pipeline.RestoreOptions;
import dev.autodir.pipeline.Restorer;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Makes a {@link Calibration}: runs the float32 reference (the cpu backend) through whole restoration passes of the
 * calibration images, so every network sees real inputs and the UNet sees every timestep of the sampler, recording the
 * input range of every quantizable layer.
 */
public final class Calibrator {
    private Calibrator() { }

    /** One image to calibrate on: its pixels [1, 3, H, W] in [-1, 1] and what identifies it. */
    public record Input(FloatTensor image, Calibration.Image description) { }

    public static Calibration calibrate(AutoDIRModels models, CLIPTokenizer tokenizer, List<Input> images, QuantRecipe recipe,
                                        Calibration.Settings settings) {
        if (images.isEmpty()) throw new IllegalArgumentException("calibration needs at least one image");
        if (!(settings.percentile() > 0 && settings.percentile() <= 1)) {
            throw new IllegalArgumentException("--percentile must be in (0, 1], got " + settings.percentile());
        }
        if (!(settings.smoothQuantAlpha() >= 0 && settings.smoothQuantAlpha() <= 1)) {
            throw new IllegalArgumentException("--smoothquant-alpha must be in [0, 1], got " + settings.smoothQuantAlpha());
        }
        RestoreOptions opts = RestoreOptions.defaults().withSteps(settings.steps()).withMaxPasses(settings.passes()).withSeed(settings.seed());
        try (CpuOps cpu = new CpuOps()) {
            CalibrationRecorder rec = new CalibrationRecorder(cpu, recipe);
            try (StageBackends b = StageBackends.all(rec); Restorer r = new Restorer(models, b, tokenizer)) {
                for (Input in : images) r.restore(in.image(), opts, null, null);
            }
            Map<String, Calibration.Layer> layers = rec.layers(settings.percentile(), settings.smoothQuantAlpha());
            List<Calibration.Image> described = new ArrayList<>();
            for (Input in : images) described.add(in.description());
            return new Calibration(weightsHash(models.store(), layers.keySet()), settings, described, recipe.exclusions(), layers);
        }
    }

    /**
     * A content hash of the given weights (key, shape and float32 values, in key order): the same for a .ckpt and a
     * .safetensors of one model, different for any other values. Calibrations and quantized engines name it.
     */
    public static String weightsHash(WeightStore store, java.util.Collection<String> keys) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (String k : new TreeSet<>(keys)) {
                FloatTensor t = store.readFloat(k);
                d.update(k.getBytes(StandardCharsets.UTF_8));
                d.update(java.util.Arrays.toString(t.shape()).getBytes(StandardCharsets.UTF_8));
                ByteBuffer b = ByteBuffer.allocate(t.numel() * 4).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(t.data());
                d.update(b);
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Refuses a calibration made for other weights. */
    public static void checkWeights(Calibration c, WeightStore store) {
        for (String k : c.layers().keySet()) {
            if (!store.contains(k)) {
                throw new IllegalArgumentException("the calibration was made for other weights (it names layer " + k
                        + ", which these weights do not have): calibrate again with `autodir calibrate`");
            }
        }
        String h = weightsHash(store, c.layers().keySet());
        if (!h.equals(c.weightsHash())) {
            throw new IllegalArgumentException("the calibration was made for other weights (weights hash " + c.weightsHash().substring(0, 12)
                    + "…, these weights " + h.substring(0, 12) + "…): calibrate again with `autodir calibrate`");
        }
    }
}
