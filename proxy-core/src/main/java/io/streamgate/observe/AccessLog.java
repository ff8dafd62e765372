package io.streamgate.observe;

import io.streamgate.config.AccessLogConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One line per request on the {@code streamgate.access} logger, in the configured format ({@link CombinedLine},
 * {@link JsonLine}). Lines are formatted on the calling thread (an event loop) into a buffer that thread reuses;
 * where they go, and that the event loop never waits for the disk, is the business of the logger's (asynchronous)
 * appender.
 *
 * <p>A host that writes the lines itself (the server's batching output) can take them straight from the formatting
 * buffer, as ASCII bytes, with {@link #sendLinesTo}, which saves a String and a logging event per request; the
 * logger's level still decides whether lines are made at all.
 *
 * <p>Thread-safe: the format and the sink are volatiles, the formatting state is per thread.
 */
public final class AccessLog {
    private static final Logger LOG = LoggerFactory.getLogger("streamgate.access");
    private static final ThreadLocal<CombinedLine> COMBINED = ThreadLocal.withInitial(CombinedLine::new);
    private static final ThreadLocal<JsonLine> JSON = ThreadLocal.withInitial(JsonLine::new);

    private static volatile AccessLogConfig.Format format = AccessLogConfig.Format.COMBINED;
    private static volatile LineSink sink;

    /** Takes a line (ASCII, without a line separator) that is only valid during the call: the formatting thread's buffer. */
    public interface LineSink {
        void accept(byte[] ascii, int length);
    }

    private AccessLog() {
    }

    /** Sets the format of the lines written from now on; lines being written keep the one they started with. */
    public static void useFormat(AccessLogConfig.Format format) {
        AccessLog.format = Objects.requireNonNull(format, "format");
    }

    public static boolean enabled() {
        return LOG.isInfoEnabled();
    }

    /** Lines go to {@code sink} instead of the logger's appenders; null sends them through the logger again. */
    public static void sendLinesTo(LineSink sink) {
        AccessLog.sink = sink;
    }

    public static void log(ExchangeRecord r) {
        if (LOG.isInfoEnabled()) {
            LineBytes line = format(r, format);
            LineSink s = sink;
            if (s != null) {
                s.accept(line.array(), line.length());
            } else {
                LOG.info(line.toString());
            }
        }
    }

    /** The line for {@code r} in {@code format}, without a line separator. */
    static String line(ExchangeRecord r, AccessLogConfig.Format format) {
        return format(r, format).toString();
    }

    private static LineBytes format(ExchangeRecord r, AccessLogConfig.Format format) {
        if (format == AccessLogConfig.Format.COMBINED) {
            return COMBINED.get().format(r);
        }
        try {
            return JSON.get().format(r);
        } catch (IOException e) {
            // Only a bug can get here (the output is a byte array); the generator may be stuck mid-object, so
            // this thread starts over with a new one.
            JSON.remove();
            throw new UncheckedIOException("cannot write the JSON access log line", e);
        }
    }
}
