package io.streamgate.config;

/**
 * Where and how the access log is written: one line per request on the {@code streamgate.access} logger.
 *
 * @param file     a file to write (rolled by size and day), or null for standard output
 * @param maxSize  size at which the file is rolled over
 * @param maxFiles rolled files kept
 */
public record AccessLogConfig(Format format, String file, long maxSize, int maxFiles) {

    /** COMBINED is nginx's combined format followed by key=value fields; JSON is one object per line. */
    public enum Format { COMBINED, JSON }

    public static final AccessLogConfig DEFAULT = new AccessLogConfig(Format.COMBINED, null, 100L << 20, 10);
}
