package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.engine.TinyModel;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The restoration loop keeps to the backends' lifetime contract (what the cuda backend enforces at run time): run on
 * {@link LifetimeCheckingOps}, which kills every transient tensor at endStage() and refuses foreign tensors, it must
 * give the plain cpu backend's result, with all stages on one backend and with stages split over two. "The same"
 * is rel-L2 ≤ 1e-5 per pass output and the same class choices: separate cpu backend instances may round differently
 * in the last bit while the JIT warms up (reduction order of vectorised loops), so bitwise equality is not promised.
 */
class StageDataFlowTest {
    static AutoDIRModels models;
    static final RestoreOptions OPTIONS = RestoreOptions.defaults().withSteps(3).withMaxPasses(2).withGuidance(1.5f, 1.2f);

    @BeforeAll static void load() {
        models = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()));
    }

    @AfterAll static void close() { if (models != null) models.close(); }

    private static Restorer.Outcome restore(StageBackends backends) {
        try (Restorer r = new Restorer(models, backends, CLIPTokenizer.loadDefault())) {
            return r.restore(TinyModel.image(36, 44, 5), OPTIONS, null, null);
        }
    }

    private static void assertSame(Restorer.Outcome want, Restorer.Outcome got) {
        assertEquals(want.passes().size(), got.passes().size(), "passes");
        for (int p = 0; p < want.passes().size(); p++) {
            assertEquals(want.passes().get(p).chosenClass(), got.passes().get(p).chosenClass(), "class of pass " + p);
            double e = got.passes().get(p).result().relL2(want.passes().get(p).result());
            assertTrue(e <= 1e-5, "SCM output of pass " + p + ": rel-L2 " + e);            // fp32 tolerance of a chained run
            double ez = got.passes().get(p).z().relL2(want.passes().get(p).z());
            assertTrue(ez <= 1e-5, "latent of pass " + p + ": rel-L2 " + ez);
        }
        assertTrue(got.finalImage().relL2(want.finalImage()) <= 1e-5, "final image");
    }

    @Test void oneCheckingBackendForEveryStage() {
        Restorer.Outcome plain;
        try (CpuOps cpu = new CpuOps(); StageBackends b = StageBackends.all(cpu)) {
            plain = restore(b);
        }
        assertTrue(plain.passes().size() >= 1);
        Ops checking = LifetimeCheckingOps.over(new CpuOps(), "checking");
        try (StageBackends b = StageBackends.all(checking)) {
            assertSame(plain, restore(b));
            assertTrue(LifetimeCheckingOps.of(checking).stages() > 3, "the loop ended stages as it went");
        }
    }

    @Test void stagesSplitOverTwoBackendsHandTensorsAcross() {
        Restorer.Outcome plain;
        try (CpuOps cpu = new CpuOps(); StageBackends b = StageBackends.all(cpu)) {
            plain = restore(b);
        }
        Ops a = LifetimeCheckingOps.over(new CpuOps(), "A"), c = LifetimeCheckingOps.over(new CpuOps(), "B");
        try (StageBackends b = new StageBackends(a, c, a, c)) {      // clip=A, vae=B, unet=A, scm=B
            assertSame(plain, restore(b));
        } finally {
            c.close();
        }
    }

    /** The checker itself: a tensor used after its stage, and a host tensor handed to an operation, are refused. */
    @Test void theCheckerCatchesBothMistakes() {
        Ops o = LifetimeCheckingOps.over(new CpuOps(), "c");
        try {
            var t = o.upload(new FloatTensor(new float[] {1, 2, 3}, 3));
            o.scale(t, 2f);
            o.endStage();
            assertThrows(IllegalStateException.class, () -> o.scale(t, 2f));
            var kept = o.keep(o.upload(new FloatTensor(new float[] {1}, 1)));
            o.endStage();
            o.scale(kept, 2f);                                           // kept tensors live on
            assertThrows(IllegalStateException.class, () -> o.scale(new FloatTensor(new float[] {1}, 1), 2f));
        } finally {
            o.close();
        }
    }
}
