package dev.autodir.backend;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The graph boundary's rules on the main sources: the pipeline imports no backend implementation, and nothing outside
 * the cuda package tests for the cuda backend's type (a general mechanism such as {@link Ops#synchronize()} instead).
 */
class BackendBoundaryTest {
    private static final Path MAIN = Path.of("src", "main", "java", "dev", "autodir");

    private static List<String> offending(Path dir, Pattern forbidden, Path except) throws IOException {
        List<String> hits = new ArrayList<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                if (except != null && f.startsWith(except)) continue;
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    if (forbidden.matcher(lines.get(i)).find()) hits.add(f + ":" + (i + 1) + ": " + lines.get(i).trim());
                }
            }
        }
        return hits;
    }

    @Test
    void thePipelineImportsNoBackendImplementation() throws IOException {
        assertTrue(Files.isDirectory(MAIN.resolve("pipeline")), "run from the project root");
        assertEquals(List.of(), offending(MAIN.resolve("pipeline"), Pattern.compile("dev\\.autodir\\.backend\\.(cpu|cuda|tensorrt)\\b"), null));
    }

    @Test
    void noInstanceofCudaOpsOutsideTheCudaPackage() throws IOException {
        assertEquals(List.of(), offending(MAIN, Pattern.compile("instanceof\\s+(dev\\.autodir\\.backend\\.cuda\\.)?CudaOps\\b"),
                MAIN.resolve("backend").resolve("cuda")));
    }
}
