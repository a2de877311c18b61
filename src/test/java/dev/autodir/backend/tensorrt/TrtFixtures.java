package dev.autodir.backend.tensorrt;

import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.io.CheckpointException;
import dev.autodir.io.DType;
import dev.autodir.io.TensorInfo;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Small stand-ins for the TensorRT tests: a weights store, a one-op network, a key. */
final class TrtFixtures {
    private TrtFixtures() { }

    static final DeviceIdentity H200 = new DeviceIdentity("10.15.1.29", "10", "NVIDIA H200", "9.0");

    static final List<TensorSpec> INPUTS = List.of(TensorSpec.float32("x", 1, 4, 8, 8), TensorSpec.int32("ids", 1, 77));
    static final List<TensorSpec> OUTPUTS = List.of(TensorSpec.float32("y", 1, 4, 8, 8));

    static EngineKey key() {
        return new EngineKey("unet", "aa".repeat(32), "bb".repeat(32), INPUTS, OUTPUTS, null, EnginePrecision.FP16, 3, 4096L << 20, false, H200);
    }

    /** A weight store of one tensor whose path is {@code file} (its bytes are the "checkpoint"). */
    static WeightStore store(Path file) {
        return new WeightStore() {
            @Override public Path path() { return file; }

            @Override public Set<String> keys() { return Set.of("w"); }

            @Override public boolean contains(String key) { return key.equals("w"); }

            @Override public TensorInfo info(String key) {
                if (!contains(key)) throw new CheckpointException(file, "missing tensor \"" + key + "\"");
                return new TensorInfo("w", DType.F32, new int[] {4});
            }

            @Override public FloatTensor readFloat(String key) { throw new CheckpointException(file, "no data in the test store"); }

            @Override public long[] readLong(String key) { throw new CheckpointException(file, "no data in the test store"); }

            @Override public void close() { }
        };
    }

    /** y = 2·x, input x float32 of {@code shape}. */
    static Network network(String name, WeightStore weights, int... shape) {
        List<TensorSpec> in = List.of(TensorSpec.float32("x", shape));
        return new Network() {
            @Override public String name() { return name; }

            @Override public List<TensorSpec> inputs() { return in; }

            @Override public WeightStore weights() { return weights; }

            @Override public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
                return Map.of("y", ops.scale(inputs.get("x"), 2f));
            }
        };
    }
}
