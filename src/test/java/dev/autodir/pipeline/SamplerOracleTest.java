package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.io.WeightStore;
import dev.autodir.model.ScheduleConfig;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every sampler under every schedule against k-diffusion's own functions (ldm's own DDIMSampler for ddim with the
 * default schedule), run as the oracle by src/test/python/kdiffusion_oracle.py with an analytic eps-model
 * eps = tanh(x)·(0.5 + t/2000) + 0.1·x over the official schedule and fixed noise: the sigmas, x and denoised at
 * every step and the result agree at relative L2 ≤ 1e-5 (float32 against float32; the order of operations is
 * k-diffusion's, so the measured errors are near 1e-7).
 */
class SamplerOracleTest {
    static final Path FIXTURES = Path.of("src", "test", "resources", "oracle", "samplers");
    static final double TOL = 1e-5;
    static Ops ops;
    static KDiffusionSchedule schedule;

    @BeforeAll static void open() {
        ops = new CpuOps();
        schedule = new KDiffusionSchedule(ScheduleConfig.official());
    }

    @AfterAll static void close() { ops.close(); }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Sampler s : Sampler.values()) for (SigmaSchedule k : SigmaSchedule.values()) out.add(Arguments.of(s, k));
        return out.stream();
    }

    /** CompVisDenoiser over the analytic eps-model, in k-diffusion's float32 order: x + eps(x·c_in, t(σ))·(−σ). */
    static final class AnalyticDenoiser implements Denoiser {
        int calls;

        @Override public Tensor denoise(Ops o, Tensor z, float sigma) {
            calls++;
            float cIn = 1f / (float) Math.sqrt(sigma * sigma + 1f);
            float t = schedule.sigmaToT(sigma);
            float s = 0.5f + t / 2000f;
            FloatTensor x = o.download(z);
            float[] d = x.data(), out = new float[d.length];
            for (int i = 0; i < d.length; i++) {
                float u = d[i] * cIn;
                float eps = (float) Math.tanh(u) * s + 0.1f * u;
                out[i] = d[i] + eps * -sigma;
            }
            return o.upload(new FloatTensor(out, x.shape()));
        }
    }

    /** The fixture's draws in order: draw k is {@code noise.step(k)}. */
    record Draws(FloatTensor all) implements NoiseSource {
        @Override public FloatTensor initial(int... shape) { throw new AssertionError("the fixture gives the starting x"); }

        @Override public FloatTensor step(int k, int... shape) {
            int n = all.numel() / all.dim(0);
            float[] d = new float[n];
            System.arraycopy(all.data(), k * n, d, 0, n);
            return new FloatTensor(d, shape);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesTheOracleAtEveryStep(Sampler sampler, SigmaSchedule kind) {
        Path file = FIXTURES.resolve(sampler.cliName() + "-" + kind.cliName() + ".safetensors");
        assertTrue(Files.isRegularFile(file), "fixture missing: " + file + " (src/test/python/kdiffusion_oracle.py writes it)");
        try (WeightStore f = WeightStore.open(file)) {
            FloatTensor refSigmas = f.readFloat("sigmas");
            FloatTensor xSteps = f.readFloat("x_steps"), denSteps = f.readFloat("denoised_steps");
            int steps = refSigmas.numel() - 1;
            float[] sigmas = sampler.sigmas(schedule, kind, 6);
            assertEquals(refSigmas.numel(), sigmas.length, "number of noise levels");
            assertClose("sigmas", new FloatTensor(sigmas, sigmas.length), refSigmas);
            List<FloatTensor> xs = new ArrayList<>(), dens = new ArrayList<>();
            AnalyticDenoiser model = new AnalyticDenoiser();
            Tensor z = sampler.sample(ops, model, ops.upload(f.readFloat("input_x")), sigmas, new Draws(f.readFloat("input_noise")),
                    (i, n, sigma, x, den) -> {
                        assertEquals(sigmas[i], sigma);
                        xs.add(ops.download(x));
                        dens.add(ops.download(den));
                    });
            assertEquals(steps, xs.size(), "steps reported");
            assertEquals(sampler.evaluations(sigmas), model.calls, "model evaluations");
            for (int i = 0; i < steps; i++) {
                assertClose("x before step " + i, xs.get(i), slice(xSteps, i));
                assertClose("denoised at step " + i, dens.get(i), slice(denSteps, i));
            }
            assertClose("result", ops.download(z), f.readFloat("output_z"));
        }
        ops.endStage();
    }

    @Test void ddimRefusesTheStepCountsLdmCannotRun() {
        assertEquals(20, schedule.ddimTimesteps(20).length);
        assertEquals(31, schedule.ddimTimesteps(30).length, "ldm's uniform timesteps: ⌈1000 / 33⌉");
        assertEquals(951, schedule.ddimTimesteps(20)[19]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> schedule.ddimTimesteps(37));
        assertTrue(e.getMessage().contains("37 steps") && e.getMessage().contains("t = 1000"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> schedule.ddimTimesteps(600));
        // other schedules do not use ldm's timesteps: any step count
        assertEquals(38, Sampler.DDIM.sigmas(schedule, SigmaSchedule.KARRAS, 37).length);
    }

    @Test void namesParseAndBadOnesAreNamed() {
        for (Sampler s : Sampler.values()) assertEquals(s, Sampler.parse(s.cliName()));
        for (SigmaSchedule k : SigmaSchedule.values()) assertEquals(k, SigmaSchedule.parse(k.cliName()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sampler.parse("lms"));
        assertTrue(e.getMessage().contains("\"lms\"") && e.getMessage().contains("dpmpp_sde"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SigmaSchedule.parse("cosine"));
        assertTrue(e.getMessage().contains("\"cosine\""), e.getMessage());
    }

    /**
     * The stand-in for k-diffusion's Brownian tree: each of a dpmpp_sde step's two noise values is N(0, 1), and their
     * correlation is √((σ_t − σ_s)/(σ_t − σ_next)), the Brownian path's. Over 400,000 samples the standard error of a
     * variance or correlation estimate is about 0.0022; the bounds are 5 of them.
     */
    @Test void brownianStepHasTheBrownianPathsLaw() {
        int n = 400_000;
        float st = 5f, ss = 2f, sn = 0.8f;
        KDiffusionSamplers.BrownianStep w = new KDiffusionSamplers.BrownianStep(new SeededNoise(9), 0, new int[] {n}, st, ss, sn);
        float[] a = w.first().data(), b = w.second().data();
        double va = 0, vb = 0, ab = 0;
        for (int i = 0; i < n; i++) {
            va += a[i] * (double) a[i];
            vb += b[i] * (double) b[i];
            ab += a[i] * (double) b[i];
        }
        va /= n;
        vb /= n;
        ab /= n;
        double expected = Math.sqrt((st - ss) / (st - sn));
        assertEquals(1, va, 0.011, "variance of the first value");
        assertEquals(1, vb, 0.011, "variance of the second value");
        assertEquals(expected, ab / Math.sqrt(va * vb), 0.011, "correlation");
    }

    private static FloatTensor slice(FloatTensor t, int i) {
        int n = t.numel() / t.dim(0);
        float[] d = new float[n];
        System.arraycopy(t.data(), i * n, d, 0, n);
        return new FloatTensor(d, n);
    }

    private static void assertClose(String what, FloatTensor got, FloatTensor ref) {
        assertEquals(ref.numel(), got.numel(), what + ": element count");
        double e = new FloatTensor(got.data(), ref.shape()).relL2(ref);
        assertTrue(e <= TOL, what + ": rel-L2 " + e + " > " + TOL);
    }
}
