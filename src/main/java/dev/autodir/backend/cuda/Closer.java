package dev.autodir.backend.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * Runs cleanup steps in order, each one even when an earlier one threw; {@link #rethrow()} then throws the first
 * failure with the others suppressed. Native resources are freed in reverse order of creation with it.
 */
final class Closer {
    private final List<RuntimeException> errors = new ArrayList<>();

    void run(Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            errors.add(e);
        }
    }

    void rethrow() {
        if (errors.isEmpty()) return;
        RuntimeException first = errors.get(0);
        for (int i = 1; i < errors.size(); i++) first.addSuppressed(errors.get(i));
        throw first;
    }
}
