package dev.autodir.backend.tensorrt;

import dev.autodir.backend.TensorSpec;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A TensorRT optimisation profile: for each input that varies, the smallest, the tuned-for and the largest shape
 * ({@code IOptimizationProfile.setDimensions(name, kMIN / kOPT / kMAX, dims)}). One engine built with a profile serves
 * every shape inside it, so the engine cache keys such an engine by the profile, not by the shape it first ran.
 *
 * <p>Inputs not named keep their static shape. A profile can only widen dimensions that the ONNX graph leaves
 * dynamic; {@link EngineBuilder} checks the parsed network and names an input whose dimension is fixed.
 */
public record ShapeProfile(Map<String, Range> ranges) {
    /** min ≤ opt ≤ max per dimension, all of one rank, every dimension ≥ 1. */
    public record Range(int[] min, int[] opt, int[] max) {
        public Range {
            if (min == null || opt == null || max == null) throw new IllegalArgumentException("a range needs min, opt and max");
            if (min.length == 0 || min.length != opt.length || min.length != max.length) {
                throw new IllegalArgumentException("min " + Arrays.toString(min) + ", opt " + Arrays.toString(opt) + " and max "
                        + Arrays.toString(max) + " must have one rank");
            }
            for (int i = 0; i < min.length; i++) {
                if (min[i] < 1) throw new IllegalArgumentException("min " + Arrays.toString(min) + ": dimension " + i + " is below 1");
                if (min[i] > opt[i] || opt[i] > max[i]) {
                    throw new IllegalArgumentException("dimension " + i + ": expected min ≤ opt ≤ max, got " + min[i] + ", " + opt[i] + ", " + max[i]);
                }
            }
            min = min.clone();
            opt = opt.clone();
            max = max.clone();
        }

        @Override public int[] min() { return min.clone(); }

        @Override public int[] opt() { return opt.clone(); }

        @Override public int[] max() { return max.clone(); }

        /** Whether {@code shape} lies inside (same rank, min ≤ shape ≤ max per dimension). */
        public boolean contains(int[] shape) {
            if (shape.length != min.length) return false;
            for (int i = 0; i < shape.length; i++) if (shape[i] < min[i] || shape[i] > max[i]) return false;
            return true;
        }

        /** "min [1, 4, 32, 32] opt [1, 4, 64, 64] max [1, 4, 128, 128]". */
        public String describe() { return "min " + Arrays.toString(min) + " opt " + Arrays.toString(opt) + " max " + Arrays.toString(max); }

        @Override public boolean equals(Object o) {
            return o instanceof Range r && Arrays.equals(r.min, min) && Arrays.equals(r.opt, opt) && Arrays.equals(r.max, max);
        }

        @Override public int hashCode() { return 31 * (31 * Arrays.hashCode(min) + Arrays.hashCode(opt)) + Arrays.hashCode(max); }

        @Override public String toString() { return describe(); }
    }

    public ShapeProfile {
        if (ranges == null || ranges.isEmpty()) throw new IllegalArgumentException("a profile names at least one input");
        ranges = Collections.unmodifiableMap(new LinkedHashMap<>(ranges));
    }

    /**
     * Checks that this profile fits a network's inputs and covers the shapes it is compiled for: every input it names
     * exists, has the profile's rank and its compiled shape lies inside the range.
     *
     * @throws IllegalArgumentException naming the network, the input and the shapes
     */
    public void check(String network, List<TensorSpec> inputs) {
        for (Map.Entry<String, Range> e : ranges.entrySet()) {
            TensorSpec spec = inputs.stream().filter(s -> s.name().equals(e.getKey())).findFirst().orElse(null);
            if (spec == null) {
                throw new IllegalArgumentException(network + ": the profile names input \"" + e.getKey() + "\", which the network does not have (inputs: "
                        + inputs.stream().map(TensorSpec::name).toList() + ")");
            }
            if (!e.getValue().contains(spec.shape())) {
                throw new IllegalArgumentException(network + ": input " + spec.describe() + " lies outside its profile range " + e.getValue().describe());
            }
        }
    }

    /** One line per input, in order: "x: min [..] opt [..] max [..]" (part of the engine cache key). */
    public String canonical() {
        StringBuilder b = new StringBuilder();
        ranges.forEach((name, r) -> b.append(b.length() == 0 ? "" : "; ").append(name).append(": ").append(r.describe()));
        return b.toString();
    }

    @Override public String toString() { return canonical(); }
}
