package dev.autodir.testing;

import org.junit.jupiter.api.Test;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.core.LauncherConfig;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/** The test run's summary line, skip reasons, and logs shown for failing tests only, on a run of {@link Fixture}. */
class TestRunReportTest {
    /** Run only by the test below (surefire skips nested classes). */
    static class Fixture {
        private static final System.Logger LOG = System.getLogger(Fixture.class.getName());

        @Test void passesAfterLoggingAnExpectedWarning() {
            LOG.log(System.Logger.Level.WARNING, "expected fallback in a passing test", new IllegalStateException("on purpose"));
        }

        @Test void failsAfterLogging() {
            LOG.log(System.Logger.Level.WARNING, "what led to the failure");
            throw new AssertionError("the fixture's failure");
        }

        @Test void skipsWithAReason() {
            assumeTrue(false, "no usable GPU: fixture");
        }
    }

    @Test
    void aRunPrintsItsCountsItsSkipReasonsAndTheLogsOfFailingTestsOnly() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        TestRunReport report = new TestRunReport(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        // no auto-registered listeners: the run's own TestRunReport must not count the fixture
        Launcher launcher = LauncherFactory.create(LauncherConfig.builder().enableTestExecutionListenerAutoRegistration(false).build());
        launcher.execute(LauncherDiscoveryRequestBuilder.request().selectors(selectClass(Fixture.class)).build(), report);

        List<String> lines = List.of(out.toString(StandardCharsets.UTF_8).split("\\R"));
        assertEquals(2, lines.size(), lines.toString());
        assertEquals("tests: skipped 1 in TestRunReportTest$Fixture: no usable GPU: fixture", lines.get(0));
        assertTrue(lines.get(1).matches("tests: 2 run, 1 passed, 1 failed, 1 skipped \\(\\d+ s\\)"), lines.get(1));
        String log = err.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("---- log of failsAfterLogging() (failed) ----") && log.contains("what led to the failure"), log);
        assertFalse(log.contains("expected fallback") || log.contains("on purpose"), "a passing test's log is not shown:\n" + log);
    }
}
