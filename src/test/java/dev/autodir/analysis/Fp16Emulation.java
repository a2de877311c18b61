package dev.autodir.analysis;

import dev.autodir.TestData;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.ForwardingOps;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.golden.GoldenConfig;
import dev.autodir.golden.GoldenSet;
import dev.autodir.io.WeightStore;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.tensor.FloatTensor;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * Where does FP16 storage lose accuracy in the UNet? Runs set A's unet case on the cpu backend with the outputs
 * of chosen operation kinds (and optionally the weights) rounded to FP16, and prints the rel-L2 error of each
 * variant against the float32 golden. An analysis tool (run by hand), not a unit test.
 */
public final class Fp16Emulation {
    /** x rounded to the nearest FP16 value (ties to even), with FP16 range and subnormals. */
    static float half(float f) {
        if (!Float.isFinite(f)) return f;
        float a = Math.abs(f);
        if (a >= 65520f) return Math.copySign(Float.POSITIVE_INFINITY, f);
        if (a < 6.103515625e-05f) return Math.copySign((float) (Math.rint(a * 16777216.0) / 16777216.0), f);
        int bits = Float.floatToRawIntBits(f);
        bits += 0xFFF + ((bits >> 13) & 1);
        return Float.intBitsToFloat(bits & ~0x1FFF);
    }

    static FloatTensor round(FloatTensor t) {
        float[] d = t.data().clone();
        for (int i = 0; i < d.length; i++) d[i] = half(d[i]);
        return new FloatTensor(d, t.shape());
    }

    /** Rounds the outputs of the named operation kinds (and weights when "weights" is named). */
    static final class Rounding extends ForwardingOps {
        final Set<String> kinds;

        Rounding(Ops inner, Set<String> kinds) { super(inner); this.kinds = kinds; }

        Tensor r(String kind, Tensor t) {
            return kinds.contains(kind) || kinds.contains("all") ? inner.upload(round(inner.download(t))) : t;
        }

        /** Rounded weights are cached here (the backend's own weights stay float32). */
        private final java.util.Map<String, Tensor> roundedWeights = new java.util.HashMap<>();

        @Override public Tensor weight(WeightStore s, String k) {
            if (!kinds.contains("weights") && !kinds.contains("all")) return inner.weight(s, k);
            return roundedWeights.computeIfAbsent(k, key -> r("weights", inner.weight(s, key)));
        }
        @Override public Tensor upload(FloatTensor h) { return r("inputs", inner.upload(h)); }
        @Override public Tensor conv2d(Tensor x, Tensor w, Tensor b, int st, int p, int g) { return r("conv", inner.conv2d(x, w, b, st, p, g)); }
        @Override public Tensor linear(Tensor x, Tensor w, Tensor b) { return r("linear", inner.linear(x, w, b)); }
        @Override public Tensor attention(Tensor q, Tensor k, Tensor v, int h, float s, AttentionMask m) { return r("attention", inner.attention(q, k, v, h, s, m)); }
        @Override public Tensor groupNorm(Tensor x, int g, Tensor a, Tensor b, float e, boolean silu) { return r("norm", inner.groupNorm(x, g, a, b, e, silu)); }
        @Override public Tensor layerNorm(Tensor x, Tensor a, Tensor b, float e) { return r("norm", inner.layerNorm(x, a, b, e)); }
        @Override public Tensor add(Tensor a, Tensor b) { return r("add", inner.add(a, b)); }
        @Override public Tensor addPerChannel(Tensor x, Tensor v) { return r("add", inner.addPerChannel(x, v)); }
        @Override public Tensor conv2dWithInputBias(Tensor x, Tensor ib, Tensor w, Tensor b, int st, int p, int g) { return r("conv", inner.conv2dWithInputBias(x, ib, w, b, st, p, g)); }
        @Override public Tensor addScaledPerChannel(Tensor a, Tensor x, Tensor b, Tensor s) { return r("add", inner.addScaledPerChannel(a, x, b, s)); }
        @Override public Tensor geglu(Tensor x) { return r("geglu", inner.geglu(x)); }
        @Override public Tensor silu(Tensor x) { return r("silu", inner.silu(x)); }
        @Override public Tensor timestepEmbedding(Tensor t, int dim) { return r("temb", inner.timestepEmbedding(t, dim)); }
        @Override public Tensor concat(List<Tensor> p, int d) { return r("concat", inner.concat(p, d)); }
    }

    public static void main(String[] args) {
        Path dir = args.length > 0 ? Path.of(args[0]) : TestData.goldenA();
        GoldenSet set = GoldenSet.open(dir);
        try (AutoDIRModels models = AutoDIRModels.load(set.weightsFile(), GoldenConfig.yaml(set));
             WeightStore c = WeightStore.open(dir.resolve("case_unet.safetensors"))) {
            FloatTensor ref = c.readFloat("output_eps");
            String[][] variants = {{}, {"all"}, {"weights"}, {"inputs"}, {"conv"}, {"linear"}, {"attention"}, {"norm"}, {"add"},
                    {"geglu"}, {"silu", "temb"}, {"all", "-temb"}};
            for (String[] v : variants) {
                Set<String> kinds = Set.of(v);
                CpuOps cpu = new CpuOps();
                Ops ops = kinds.contains("-temb")
                        ? new Rounding(cpu, Set.of("weights", "inputs", "conv", "linear", "attention", "norm", "add", "geglu", "silu", "concat"))
                        : new Rounding(cpu, kinds);
                FloatTensor out = ops.download(models.unet().forward(ops, ops.upload(c.readFloat("input_x")),
                        c.readFloat("input_timesteps").data(), ops.upload(c.readFloat("input_context"))));
                System.out.printf("%-32s rel-L2 %.3e%n", String.join("+", v).isEmpty() ? "(float32)" : String.join("+", v), out.relL2(ref));
                cpu.close();
            }
        }
    }
}
