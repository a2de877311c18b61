package dev.autodir.io;

import dev.autodir.TestData;

import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The golden set A weights: one state dict as safetensors, as a Lightning .ckpt and as an fp16 .ckpt. */
class GoldenWeightsTest {
    static final Path GOLDEN_A = TestData.goldenA();

    @Test
    void ckptHoldsTheSafetensorsTensorsBitForBitPlusThePositionIds() {
        try (WeightStore st = WeightStore.open(GOLDEN_A.resolve("weights.safetensors"));
             WeightStore ck = WeightStore.open(GOLDEN_A.resolve("weights.ckpt"))) {
            assertEquals(561, st.keys().size());
            Set<String> extra = new HashSet<>(ck.keys());
            extra.removeAll(st.keys());
            assertEquals(Set.of("model_assessment.clipmodel.text_model.embeddings.position_ids",
                    "model_assessment.clipmodel.vision_model.embeddings.position_ids"), extra);
            assertTrue(ck.keys().containsAll(st.keys()));
            for (String k : st.keys()) {
                assertEquals(st.info(k), ck.info(k), k);
                FloatTensor a = st.readFloat(k);
                FloatTensor b = ck.readFloat(k);
                // the same float32 values written twice: exact equality
                assertArrayEquals(a.data(), b.data(), 0f, k);
            }
            // a sample of values must not be all zeros, or the comparison above proves nothing
            float[] w = st.readFloat("model.diffusion_model.input_blocks.0.0.weight").data();
            double sq = 0;
            for (float v : w) sq += v * v;
            assertTrue(sq > 0);
        }
    }

    @Test
    void positionIdsAreInt64Ranges() {
        try (WeightStore ck = WeightStore.open(GOLDEN_A.resolve("weights.ckpt"))) {
            String text = "model_assessment.clipmodel.text_model.embeddings.position_ids";
            String vision = "model_assessment.clipmodel.vision_model.embeddings.position_ids";
            assertEquals(new TensorInfo(text, DType.I64, new int[] {1, 77}), ck.info(text));
            assertEquals(new TensorInfo(vision, DType.I64, new int[] {1, 17}), ck.info(vision));
            long[] ids = ck.readLong(text);
            for (int i = 0; i < 77; i++) assertEquals(i, ids[i]);
            long[] vids = ck.readLong(vision);
            for (int i = 0; i < 17; i++) assertEquals(i, vids[i]);
            CheckpointException e = org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> ck.readFloat(text));
            assertTrue(e.getMessage().contains("I64") && e.getMessage().contains(text), e.getMessage());
        }
    }

    @Test
    void fp16CheckpointMatchesWithinHalfPrecisionRounding() {
        try (WeightStore st = WeightStore.open(GOLDEN_A.resolve("weights.safetensors"));
             WeightStore h = WeightStore.open(GOLDEN_A.resolve("weights-fp16.ckpt"))) {
            int checked = 0;
            for (String k : st.keys()) {
                TensorInfo hi = h.info(k);
                assertEquals(DType.F16, hi.dtype(), k);
                assertArrayEquals(st.info(k).shape(), hi.shape(), k);
                float[] ref = st.readFloat(k).data();
                float[] got = h.readFloat(k).data();
                for (int i = 0; i < ref.length; i++) {
                    // round-to-nearest fp16: relative error ≤ 2^-11 for normals, absolute ≤ 2^-25 in the subnormal range
                    double tol = Math.abs(ref[i]) * 0x1p-11 + 0x1p-25;
                    if (!(Math.abs(got[i] - ref[i]) <= tol)) {
                        fail(k + "[" + i + "]: fp16 " + got[i] + " vs fp32 " + ref[i] + " (tolerance " + tol + ")");
                    }
                }
                checked++;
            }
            assertEquals(561, checked);
            assertEquals(DType.I64, h.info("model_assessment.clipmodel.text_model.embeddings.position_ids").dtype());
        }
    }

    @Test
    void smallChunksGiveTheSameTensors() {
        // 4 KiB + 4 bytes: tensors straddle chunk boundaries, and elements straddle them too where data is 2-aligned
        for (String name : List.of("weights.safetensors", "weights.ckpt", "weights-fp16.ckpt")) {
            try (WeightStore whole = WeightStore.open(GOLDEN_A.resolve(name));
                 WeightStore chunked = WeightStores.open(GOLDEN_A.resolve(name), 4096 + 6)) {
                assertEquals(new ArrayList<>(whole.keys()), new ArrayList<>(chunked.keys()));
                for (String k : whole.keys()) {
                    if (whole.info(k).dtype().isFloat()) {
                        assertArrayEquals(whole.readFloat(k).data(), chunked.readFloat(k).data(), 0f, name + " " + k);
                    } else {
                        assertArrayEquals(whole.readLong(k), chunked.readLong(k), name + " " + k);
                    }
                }
            }
        }
    }

    @Test
    void concurrentReadsAgree() throws Exception {
        try (WeightStore st = WeightStore.open(GOLDEN_A.resolve("weights.ckpt"))) {
            List<String> keys = new ArrayList<>(st.keys());
            keys.removeIf(k -> !st.info(k).dtype().isFloat());
            double[] expected = new double[keys.size()];
            for (int i = 0; i < keys.size(); i++) expected[i] = sum(st.readFloat(keys.get(i)).data());
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<double[]>> results = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int shift = t * 37;
                    results.add(pool.submit(() -> {
                        double[] got = new double[keys.size()];
                        for (int j = 0; j < keys.size(); j++) {
                            int i = (j + shift) % keys.size();
                            got[i] = sum(st.readFloat(keys.get(i)).data());
                        }
                        return got;
                    }));
                }
                for (Future<double[]> f : results) assertArrayEquals(expected, f.get());
            } finally {
                pool.shutdown();
            }
        }
    }

    private static double sum(float[] a) {
        double s = 0;
        for (float v : a) s += v;
        return s;
    }
}
