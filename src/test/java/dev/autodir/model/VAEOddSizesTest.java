package dev.autodir.model;

import dev.autodir.TestData;
import dev.autodir.backend.Ops;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.io.WeightStore;
import dev.autodir.model.vae.VAE;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The VAE encoder on sizes that are not multiples of its factor, against ldm's own Encoder, quant_conv and
 * DiagonalGaussianDistribution (src/test/python/vae_encoder_oracle.py): golden set A's VAE, and a VAE of the official
 * depth (three downsamplings, so odd sizes at inner levels). Relative L2 ≤ 1e-5 (float32 against float32; the golden
 * set's own vae_encode outputs sit near 7e-7).
 */
public class VAEOddSizesTest {
    static final Path FIXTURES = Path.of("src", "test", "resources", "oracle", "vae_odd");
    static final VAEConfig DEEP = new VAEConfig(3, 3, 32, List.of(1, 1, 1, 1), 1, 4, 4, true);
    static final VAEConfig SET_A = new VAEConfig(3, 3, 32, List.of(1, 2), 1, 4, 4, true);

    @ParameterizedTest(name = "{0} {1}x{2}")
    @CsvSource({"setA, 22, 38", "setA, 50, 66", "deep, 22, 38", "deep, 50, 66", "deep, 17, 21"})
    void encoderComputesWhatTheOfficialModuleComputes(String model, int h, int w) {
        try (Ops ops = new CpuOps()) {
            check(ops, model, h, w, 1e-5);
        }
    }

    /** One fixture on {@code ops} (the cuda backend runs it too: CudaVAEOddSizesTest). */
    public static void check(Ops ops, String model, int h, int w, double tol) {
        Path weights = model.equals("setA") ? TestData.goldenA("weights.safetensors") : FIXTURES.resolve("deep_vae_weights.safetensors");
        try (WeightStore store = WeightStore.open(weights); WeightStore c = WeightStore.open(FIXTURES.resolve(model + "_" + h + "x" + w + ".safetensors"))) {
            VAE vae = new VAE(model.equals("setA") ? SET_A : DEEP, store);
            VAE.Posterior p = vae.encode(ops, ops.upload(c.readFloat("input_image")));
            for (String name : new String[] {"output_moments", "output_mean", "output_logvar_clamped"}) {
                FloatTensor ref = c.readFloat(name);
                FloatTensor got = ops.download(name.endsWith("moments") ? p.moments() : name.endsWith("mean") ? p.mean() : p.logvarClamped());
                assertArrayEquals(ref.shape(), got.shape(), name);
                double e = got.relL2(ref);
                assertTrue(e <= tol, ops.name() + " " + model + " " + h + "x" + w + " " + name + ": rel-L2 " + e + " > " + tol);
            }
        } finally {
            ops.endStage();
        }
    }

    @Test
    void tooSmallForTheDownsamplingsIsNamed() {
        try (WeightStore store = WeightStore.open(FIXTURES.resolve("deep_vae_weights.safetensors")); Ops ops = new CpuOps()) {
            VAE vae = new VAE(DEEP, store);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> vae.encode(ops, ops.upload(FloatTensor.zeros(1, 3, 7, 30))));
            assertTrue(e.getMessage().contains("at least 8"), e.getMessage());
        }
    }
}
