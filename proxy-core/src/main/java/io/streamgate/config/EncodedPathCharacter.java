package io.streamgate.config;

/**
 * Reserved characters that a request path may carry percent-encoded only when {@code server.allow_encoded_in_path}
 * names them. Each is decoded by some backends and not by others (uvicorn turns {@code %2F} into a path separator,
 * Tomcat treats {@code ;} as the start of path parameters), so the gateway and the backend could see two different
 * paths: routes and rules would be checked against one while the backend serves the other. Traefik refuses the same
 * set by default.
 */
public enum EncodedPathCharacter {
    SLASH('/'), BACKSLASH('\\'), SEMICOLON(';'), PERCENT('%'), QUESTION_MARK('?'), HASH('#');

    private final char decoded;

    EncodedPathCharacter(char decoded) {
        this.decoded = decoded;
    }

    /** The character this names, or null when {@code c} is none of them. */
    public static EncodedPathCharacter of(char c) {
        for (EncodedPathCharacter e : values()) {
            if (e.decoded == c) {
                return e;
            }
        }
        return null;
    }

    /** The name the configuration uses. */
    public String configName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
