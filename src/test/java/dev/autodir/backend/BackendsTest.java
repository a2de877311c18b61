package dev.autodir.backend;

import dev.autodir.backend.cuda.CudaAvailability;
import dev.autodir.pipeline.StageBackends;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** What each stage really runs on after Backends.create, the notices of a fallback, and strict mode. */
class BackendsTest {
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    private final PrintStream notices = new PrintStream(buf, true, StandardCharsets.UTF_8);

    private List<String> notices() {
        String s = buf.toString(StandardCharsets.UTF_8);
        return s.isEmpty() ? List.of() : List.of(s.split("\\R"));
    }

    @Test
    void cpuAsAskedHasNoNoticesAndOneBackendForEveryStage() {
        try (StageBackends b = Backends.create(BackendSpec.parse("cpu"), Precision.FP32, true, notices)) {
            assertEquals(List.of(), notices());
            assertSame(b.clip(), b.scm());
            assertEquals(1, b.distinct().size());
            assertEquals("clip=cpu,vae=cpu,unet=cpu,scm=cpu", b.report().backends());
            assertEquals("fp32", b.report().precisions());
            assertEquals(List.of(), b.report().problems());
            assertEquals("unet=cpu fp32", b.report().stage("unet").toString());
        }
    }

    @Test
    void fp16WhereNoStageOffersItIsANoticeOrInStrictModeAnError() {
        try (StageBackends b = Backends.create(BackendSpec.parse("cpu"), Precision.FP16, false, notices)) {
            assertEquals(List.of("autodir: precision fp16 was asked for, but no stage runs on a backend that offers it"
                    + " (clip=cpu,vae=cpu,unet=cpu,scm=cpu; the cpu backend computes in fp32 only)"), notices());
            assertEquals("fp32", b.report().precisions(), "the report says what ran, not what was asked");
            assertEquals(Precision.FP16, b.report().requestedPrecision());
        }
        BackendException e = assertThrows(BackendException.class,
                () -> Backends.create(BackendSpec.parse("cpu"), Precision.FP16, true, notices));
        assertTrue(e.getMessage().startsWith("strict backend, no fallback: precision fp16 was asked for"), e.getMessage());
    }

    @Test
    void aCudaStageThatCannotStartFallsBackWithItsReasonOrFailsInStrictMode() {
        assumeFalse(CudaAvailability.usable(), "a GPU is usable here: no fallback to provoke");
        String why = CudaAvailability.unavailableReason();
        try (StageBackends b = Backends.create(BackendSpec.parse("unet=cuda,scm=cuda"), Precision.FP32, false, notices)) {
            assertEquals(List.of("autodir: cuda backend unavailable for stages unet, scm (" + why + "); they run on cpu in fp32"), notices());
            StagePlacement unet = b.report().stage("unet");
            assertEquals(List.of("cuda", "cpu", Precision.FP32, why), List.of(unet.requested(), unet.backend(), unet.precision(), unet.reason()));
            assertTrue(unet.fellBack());
            assertEquals("clip=cpu fp32", b.report().stage("clip").toString(), "asked for cpu: no fallback");
            assertEquals("unet=cpu fp32 (cuda requested: " + why + ")", unet.toString());
            assertEquals(1, b.distinct().size(), "the fallback shares the cpu backend of the other stages");
        }
        BackendException e = assertThrows(BackendException.class,
                () -> Backends.create(BackendSpec.parse("cuda,clip=cpu"), Precision.FP16, true, notices));
        assertEquals("strict backend, no fallback: cuda backend unavailable for stages vae, unet, scm (" + why + ")", e.getMessage());
    }

    @Test
    void aMixedReportListsPrecisionsPerStage() {
        BackendReport r = new BackendReport(Precision.FP16, false, List.of(
                new StagePlacement("clip", "cpu", "cpu", Precision.FP32, null),
                new StagePlacement("vae", "cuda", "cuda", Precision.FP16, null),
                new StagePlacement("unet", "cuda", "cuda", Precision.FP16, null),
                new StagePlacement("scm", "cuda", "cpu", Precision.FP32, "no CUDA device")));
        assertEquals("clip=fp32,vae=fp16,unet=fp16,scm=fp32", r.precisions());
        assertEquals(List.of(new BackendReport.Problem("cuda backend unavailable for stage scm (no CUDA device)", "it runs on cpu in fp32")),
                r.problems(), "fp16 is used by some stages: only the fallback is a problem");
        assertThrows(IllegalArgumentException.class, () -> new StagePlacement("scm", "cuda", "cpu", Precision.FP32, null),
                "a fallback needs its reason");
    }
}
