package dev.autodir.backend.cuda;

import dev.autodir.TestData;

import dev.autodir.backend.Precision;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The sampler kernels and the CLIP packing against the official golden fixtures (set A): the CFG combine
 * and every Euler-ancestral step of the recorded sampler runs, and the CLIP pixel values. The fixtures live
 * in golden set A ({@link TestData#goldenA}: ../shared/golden/A, the copy in the repository, or -Dautodir.golden=DIR); skipped with the reason when absent or without a GPU.
 */
class CudaGoldenTest {
    private static final Path GOLDEN = TestData.goldenA();

    @BeforeEach
    void needsGpuAndFixtures() {
        CudaTestSupport.assumeGpu();
        assumeTrue(Files.isDirectory(GOLDEN), () -> "golden fixtures not found at " + GOLDEN.toAbsolutePath());
    }

    /** The float32 tensors of a safetensors file (8-byte header length, JSON header, little-endian data). */
    static Map<String, FloatTensor> readF32(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        ByteBuffer buf = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = buf.getLong(0);
        JsonNode header = new ObjectMapper().readTree(new String(all, 8, (int) headerLen, StandardCharsets.UTF_8));
        Map<String, FloatTensor> out = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__") || !e.getValue().get("dtype").asText().equals("F32")) continue;
            JsonNode shapeNode = e.getValue().get("shape");
            int[] shape = new int[shapeNode.size()];
            for (int i = 0; i < shape.length; i++) shape[i] = shapeNode.get(i).asInt();
            long begin = 8 + headerLen + e.getValue().get("data_offsets").get(0).asLong();
            float[] data = new float[(int) FloatTensor.numel(shape)];
            for (int i = 0; i < data.length; i++) data[i] = buf.getFloat((int) (begin + 4L * i));
            out.put(e.getKey(), new FloatTensor(data, shape));
        }
        return out;
    }

    private static FloatTensor row(FloatTensor t, int i) {
        int[] shape = java.util.Arrays.copyOfRange(t.shape(), 1, t.rank());
        int n = (int) FloatTensor.numel(shape);
        float[] d = new float[n];
        System.arraycopy(t.data(), i * n, d, 0, n);
        return new FloatTensor(d, shape);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sampler_cfg_1.5_1.2:1.5:1.2", "sampler_cfg_1_1:1:1"})
    void samplerStepsReproduceTheRecordedRun(String spec) throws IOException {
        String[] parts = spec.split(":");
        float sText = Float.parseFloat(parts[1]), sImg = Float.parseFloat(parts[2]);
        Map<String, FloatTensor> c = readF32(GOLDEN.resolve("case_" + parts[0] + ".safetensors"));
        FloatTensor sigmas = c.get("output_sigmas"), xs = c.get("output_x_steps"), dens = c.get("output_denoised_steps");
        FloatTensor noise = c.get("input_noise_steps"), branches = c.get("output_step0_branches"), z = c.get("output_z");
        int steps = xs.dim(0);
        try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(Precision.FP32))) {
            int n = (int) FloatTensor.numel(java.util.Arrays.copyOfRange(xs.shape(), 1, xs.rank()));
            int[] shape = java.util.Arrays.copyOfRange(xs.shape(), 1, xs.rank());
            FloatTensor cond = new FloatTensor(java.util.Arrays.copyOfRange(branches.data(), 0, n), shape);
            FloatTensor img = new FloatTensor(java.util.Arrays.copyOfRange(branches.data(), n, 2 * n), shape);
            FloatTensor un = new FloatTensor(java.util.Arrays.copyOfRange(branches.data(), 2 * n, 3 * n), shape);
            assertClose(parts[0] + " cfgCombine at step 0", ops.download(ops.cfgCombine(ops.upload(cond), ops.upload(img), ops.upload(un),
                    sText, sImg)), row(dens, 0), 1e-5);
            for (int i = 0; i < steps; i++) {
                float from = sigmas.data()[i], to = sigmas.data()[i + 1];
                // k-diffusion get_ancestral_step(eta=1) in float32
                float to2 = to * to, from2 = from * from;
                float up = Math.min(to, (float) Math.sqrt(to2 * (from2 - to2) / from2));
                float down = (float) Math.sqrt(to2 - up * up);
                FloatTensor noiseI = to > 0 ? row(noise, i) : null;
                FloatTensor next = ops.download(ops.eulerAncestralStep(ops.upload(row(xs, i)), ops.upload(row(dens, i)),
                        noiseI == null ? null : ops.upload(noiseI), from, down, up));
                FloatTensor expect = i + 1 < steps ? row(xs, i + 1) : z.reshape(shape);
                assertClose(parts[0] + " Euler-ancestral step " + i, next, expect, 1e-5);
                ops.endStage();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void clipPixelValuesMatchTheProcessor(Precision p) throws IOException {
        Map<String, FloatTensor> c = readF32(GOLDEN.resolve("case_clip_assessment.safetensors"));
        FloatTensor image = c.get("input_image"), expect = c.get("output_pixel_values");
        try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(p))) {
            FloatTensor out = ops.download(ops.clipPixelValues(ops.uploadFloat32(image), expect.dim(2)));
            assertClose("clip pixel values " + p, out, expect, p == Precision.FP32 ? 1e-6 : 2e-3);
        }
    }
}
