package dev.autodir.backend.cuda;

import dev.autodir.TestData;

import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static dev.autodir.backend.cuda.CudaTestSupport.assertClose;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs without a GPU: the float32 formulas that cfg_combine.cu, euler_ancestral.cu and clip_preprocess.cu
 * implement operation for operation ({@link Reference}) reproduce the official golden fixtures, so the kernels'
 * semantics are checked here and only their execution is left to the device.
 */
class GoldenReferenceTest {
    private static final Path GOLDEN = TestData.goldenA();

    @BeforeEach
    void needsFixtures() {
        assumeTrue(Files.isDirectory(GOLDEN), () -> "golden fixtures not found at " + GOLDEN.toAbsolutePath());
    }

    private static FloatTensor row(FloatTensor t, int i) {
        int[] shape = Arrays.copyOfRange(t.shape(), 1, t.rank());
        int n = (int) FloatTensor.numel(shape);
        return new FloatTensor(Arrays.copyOfRange(t.data(), i * n, (i + 1) * n), shape);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sampler_cfg_1.5_1.2:1.5:1.2", "sampler_cfg_1_1:1:1"})
    void samplerFormulasReproduceTheRecordedRun(String spec) throws IOException {
        String[] parts = spec.split(":");
        float sText = Float.parseFloat(parts[1]), sImg = Float.parseFloat(parts[2]);
        Map<String, FloatTensor> c = CudaGoldenTest.readF32(GOLDEN.resolve("case_" + parts[0] + ".safetensors"));
        FloatTensor sigmas = c.get("output_sigmas"), xs = c.get("output_x_steps"), dens = c.get("output_denoised_steps");
        FloatTensor noise = c.get("input_noise_steps"), branches = c.get("output_step0_branches"), z = c.get("output_z");
        int[] shape = Arrays.copyOfRange(xs.shape(), 1, xs.rank());
        assertClose(parts[0] + " cfg", Reference.cfgCombine(row(branches, 0).reshape(shape), row(branches, 1).reshape(shape),
                row(branches, 2).reshape(shape), sText, sImg), row(dens, 0), 1e-6);
        for (int i = 0; i < xs.dim(0); i++) {
            float from = sigmas.data()[i], to = sigmas.data()[i + 1];
            float to2 = to * to, from2 = from * from;
            float up = Math.min(to, (float) Math.sqrt(to2 * (from2 - to2) / from2));
            float down = (float) Math.sqrt(to2 - up * up);
            FloatTensor next = Reference.eulerAncestral(row(xs, i), row(dens, i), to > 0 ? row(noise, i) : null, from, down, up);
            assertClose(parts[0] + " step " + i, next, i + 1 < xs.dim(0) ? row(xs, i + 1) : z.reshape(shape), 1e-6);
        }
    }

    @Test
    void clipPixelValuesReproduceTheProcessor() throws IOException {
        Map<String, FloatTensor> c = CudaGoldenTest.readF32(GOLDEN.resolve("case_clip_assessment.safetensors"));
        FloatTensor expect = c.get("output_pixel_values");
        assertClose("clip pixel values", Reference.clipPixelValues(c.get("input_image"), expect.dim(2), CudaOps.CLIP_MEAN,
                CudaOps.CLIP_STD), expect, 1e-6);
    }
}
