package dev.autodir.cli;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Turns the command line's image and folder arguments into the list of images to work on. A folder gives the image
 * files directly inside it (not in subfolders), by extension, sorted by name; hidden files are skipped. A path given
 * twice (or reached through a folder and by name) is taken once. What cannot be used becomes a {@link Problem}, so
 * a batch can go on past it.
 */
final class InputCollector {
    /** The file name extensions a folder is searched for (case-insensitive). */
    static final List<String> EXTENSIONS = List.of("png", "jpg", "jpeg", "tif", "tiff");

    /** One argument that gave no image, and why. */
    record Problem(Path path, String reason) {
        String message() { return path + ": " + reason; }
    }

    record Inputs(List<Path> images, List<Problem> problems) { }

    private InputCollector() { }

    static Inputs collect(List<Path> arguments) {
        List<Path> images = new ArrayList<>();
        List<Problem> problems = new ArrayList<>();
        Set<Path> seen = new HashSet<>();
        for (Path arg : arguments) {
            if (Files.isDirectory(arg)) {
                List<Path> found;
                try {
                    found = imagesIn(arg);
                } catch (IOException e) {
                    problems.add(new Problem(arg, "cannot list the folder: " + e.getMessage()));
                    continue;
                }
                if (found.isEmpty()) {
                    problems.add(new Problem(arg, "no image files (" + String.join(", ", EXTENSIONS) + ") directly in this folder"));
                }
                for (Path f : found) if (seen.add(identity(f))) images.add(f);
            } else if (!Files.exists(arg)) {
                problems.add(new Problem(arg, "no such file or folder"));
            } else if (!Files.isRegularFile(arg)) {
                problems.add(new Problem(arg, "not a regular file or a folder"));
            } else if (seen.add(identity(arg))) {
                images.add(arg); // a file named explicitly is tried whatever its extension: the reader looks at the content
            }
        }
        return new Inputs(images, problems);
    }

    private static List<Path> imagesIn(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (name.startsWith(".") || !hasImageExtension(name) || !Files.isRegularFile(p)) continue;
                out.add(p);
            }
        }
        out.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        return out;
    }

    static boolean hasImageExtension(String name) {
        int dot = name.lastIndexOf('.');
        return dot > 0 && EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    /** The file's real path where it can be resolved (so a/../b.png and b.png are one file), else the normalised absolute one. */
    private static Path identity(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }
}
