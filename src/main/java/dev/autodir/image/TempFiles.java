package dev.autodir.image;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hidden temporary files that atomic writes go through, {@code .NAME.autodir-PID-RANDOM.tmp} beside the
 * target NAME, and their clean-up: a process killed between creating one and renaming it (kill -9, power
 * loss) leaves it behind, and the next run removes those whose process is gone. Only files named this way
 * are ever removed, so a user's own dot-files are safe.
 */
public final class TempFiles {
    private TempFiles() { }

    private static final Pattern OURS = Pattern.compile("\\.(.+)\\.autodir-(\\d+)-[0-9a-f]{1,16}\\.tmp");
    /** The names written before the process id was part of them: {@code .NAME.RANDOM.tmp}. */
    private static final Pattern OLD = Pattern.compile("\\.(.+)\\.[0-9a-f]{1,16}\\.tmp");

    /** A new temporary file name beside {@code file} (not created). */
    public static Path beside(Path file) {
        Path abs = file.toAbsolutePath().normalize();
        return abs.resolveSibling("." + abs.getFileName() + ".autodir-" + ProcessHandle.current().pid() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
    }

    /**
     * Removes from {@code dir} the temporary files of processes that no longer run, and the old-style ones
     * (no process id) of the targets in {@code targets} (file names); returns what it removed.
     */
    public static List<Path> removeStale(Path dir, Collection<String> targets) {
        List<Path> removed = new ArrayList<>();
        if (!Files.isDirectory(dir)) return removed;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, ".*.tmp")) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                Matcher m = OURS.matcher(name);
                boolean stale;
                if (m.matches()) {
                    long pid = parsePid(m.group(2));
                    stale = pid < 0 || ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true);
                } else {
                    Matcher o = OLD.matcher(name);
                    stale = o.matches() && targets.contains(o.group(1));
                }
                if (stale && Files.isRegularFile(p) && Files.deleteIfExists(p)) removed.add(p);
            }
        } catch (IOException e) {
            // best effort: a temporary file left over takes space, it does no harm
        }
        return removed;
    }

    private static long parsePid(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
