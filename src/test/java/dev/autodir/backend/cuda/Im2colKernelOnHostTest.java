package dev.autodir.backend.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs the real cuda/im2col.cu on the CPU through cuda/verify/im2col_host.cpp (the kernel source compiled as C++,
 * every thread of the grid run in turn, each column matrix compared bit for bit with its definition), so its index
 * arithmetic is checked on machines without a GPU. Skipped, with the reason, where no g++ is installed.
 */
class Im2colKernelOnHostTest {
    @Test
    void kernelMatchesItsDefinition(@TempDir Path dir) throws IOException, InterruptedException {
        Path source = Path.of("cuda", "verify", "im2col_host.cpp").toAbsolutePath();
        assertTrue(Files.exists(source), source + " is missing");
        Path exe = dir.resolve("im2col_host");
        Result compile = run(dir, List.of("g++", "-std=c++17", "-O2", "-Wno-unknown-pragmas", "-o", exe.toString(), source.toString()));
        assumeTrue(compile != null, "no g++ on this machine");
        assertEquals(0, compile.code(), "g++ failed on " + source + ":\n" + compile.output());
        Result r = run(dir, List.of(exe.toString()));
        assertTrue(r != null && r.code() == 0 && r.output().contains("all cases match"), "im2col on the host:\n" + (r == null ? "did not start" : r.output()));
    }

    private record Result(int code, String output) { }

    /** Runs a command (2 minutes at most); null when it cannot start (program not installed). */
    private static Result run(Path dir, List<String> command) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            return null;
        }
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException(command.get(0) + " did not finish in 2 minutes");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
