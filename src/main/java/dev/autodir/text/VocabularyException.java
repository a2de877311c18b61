package dev.autodir.text;

/**
 * A tokenizer vocabulary that is missing, unreadable or malformed. The message starts with the file
 * (or class-path resource) and says what is wrong with it.
 */
public class VocabularyException extends RuntimeException {
    public VocabularyException(String source, String problem) {
        super(source + ": " + problem);
    }

    public VocabularyException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
    }
}
