package dev.autodir.model;

/** A model configuration that is unreadable, unsupported or inconsistent; the message names the source and the key. */
public class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
