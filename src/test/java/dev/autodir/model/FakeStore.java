package dev.autodir.model;

import dev.autodir.io.CheckpointException;
import dev.autodir.io.DType;
import dev.autodir.io.TensorInfo;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** A weight store of shapes only, for config tests: reading data is refused (unless a tensor was given). */
final class FakeStore implements WeightStore {
    final LinkedHashMap<String, TensorInfo> infos = new LinkedHashMap<>();
    final Map<String, float[]> data = new LinkedHashMap<>();
    private final Path path;

    FakeStore(Path path) { this.path = path; }

    /** The shapes of another store (reads none of its data). */
    static FakeStore copyOf(WeightStore s) {
        FakeStore f = new FakeStore(s.path());
        for (String k : s.keys()) f.infos.put(k, s.info(k));
        return f;
    }

    /** Official-size weights of every network laid out by {@link WeightLayout} (no data), as the real checkpoint has them. */
    static FakeStore official() {
        return new FakeStore(Path.of("official.ckpt"))
                .add(ConfigInference.UNET_PREFIX, WeightLayout.unet(UNetConfig.official()))
                .add(ConfigInference.VAE_PREFIX, WeightLayout.vae(VAEConfig.official()))
                .add(ConfigInference.CLIP_PREFIX, WeightLayout.clipText(CLIPTextConfig.official()))
                .add(ConfigInference.CLIP_PREFIX, WeightLayout.clipVision(CLIPVisionConfig.official()))
                .add(ConfigInference.SCM_PREFIX, WeightLayout.nafnet(NAFNetConfig.official()))
                .put("model_assessment.clipmodel.text_model.embeddings.position_ids", DType.I64, 1, 77)
                .put("model_assessment.clipmodel.vision_model.embeddings.position_ids", DType.I64, 1, 257);
    }

    /** Every weight of {@code layout}, float32, under {@code prefix}. */
    FakeStore add(String prefix, Map<String, int[]> layout) {
        layout.forEach((k, shape) -> infos.put(prefix + k, new TensorInfo(prefix + k, DType.F32, shape)));
        return this;
    }

    FakeStore put(String key, DType dtype, int... shape) {
        infos.put(key, new TensorInfo(key, dtype, shape));
        return this;
    }

    @Override public Path path() { return path; }

    @Override public Set<String> keys() { return Collections.unmodifiableSet(infos.keySet()); }

    @Override public boolean contains(String key) { return infos.containsKey(key); }

    @Override public TensorInfo info(String key) {
        TensorInfo i = infos.get(key);
        if (i == null) throw new CheckpointException(path, "no tensor named \"" + key + "\"");
        return i;
    }

    @Override public FloatTensor readFloat(String key) {
        float[] d = data.get(key);
        if (d == null) throw new AssertionError("config inference read the data of " + key);
        return new FloatTensor(d.clone(), info(key).shape());
    }

    @Override public long[] readLong(String key) { throw new AssertionError("config inference read the data of " + key); }

    @Override public void close() { }
}
