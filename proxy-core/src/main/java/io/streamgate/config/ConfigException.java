package io.streamgate.config;

/**
 * A configuration problem, located in its source: the message reads
 * {@code file:line:column: key.path: problem}, so an operator can jump straight to it.
 */
public final class ConfigException extends Exception {
    private final String source;
    private final int line;
    private final int column;
    private final String keyPath;

    public ConfigException(String source, int line, int column, String keyPath, String problem) {
        super(format(source, line, column, keyPath, problem));
        this.source = source;
        this.line = line;
        this.column = column;
        this.keyPath = keyPath;
    }

    private static String format(String source, int line, int column, String keyPath, String problem) {
        StringBuilder sb = new StringBuilder(source);
        if (line > 0) {
            sb.append(':').append(line).append(':').append(column);
        }
        sb.append(": ");
        if (!keyPath.isEmpty()) {
            sb.append(keyPath).append(": ");
        }
        return sb.append(problem).toString();
    }

    public String source() {
        return source;
    }

    /** 1-based line, or 0 when the problem concerns the whole file. */
    public int line() {
        return line;
    }

    public int column() {
        return column;
    }

    public String keyPath() {
        return keyPath;
    }
}
