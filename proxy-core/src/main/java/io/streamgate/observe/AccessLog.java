package io.streamgate.observe;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One line per request on the {@code streamgate.access} logger, in nginx's combined format followed by
 * key=value fields nginx does not have. Where the line goes (and whether asynchronously) is Logback's business.
 */
public final class AccessLog {
    private static final Logger LOG = LoggerFactory.getLogger("streamgate.access");
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT).withZone(ZoneOffset.UTC);

    private AccessLog() {
    }

    public static boolean enabled() {
        return LOG.isInfoEnabled();
    }

    public static void log(ExchangeRecord r) {
        if (!LOG.isInfoEnabled()) {
            return;
        }
        StringBuilder sb = new StringBuilder(256);
        sb.append(r.clientIp).append(" - - [").append(TIME.format(Instant.ofEpochMilli(r.startEpochMillis))).append("] \"")
                .append(r.method).append(' ').append(r.uri).append(' ').append(r.protocol).append("\" ")
                .append(r.status).append(' ').append(r.bytesOut).append(" \"")
                .append(orDash(r.referer)).append("\" \"").append(orDash(r.userAgent)).append("\"")
                .append(" rid=").append(r.requestId)
                .append(" route=").append(orDash(r.route))
                .append(" upstream=").append(orDash(r.upstreamEndpoint))
                .append(" in=").append(r.bytesIn)
                .append(" dur_ms=").append(millis(r.durationNanos))
                .append(" ttfb_ms=").append(r.firstByteNanos < 0 ? "-" : millis(r.firstByteNanos));
        if (r.note != null) {
            sb.append(" note=").append(r.note);
        }
        LOG.info(sb.toString());
    }

    private static String millis(long nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1e6);
    }

    private static String orDash(String s) {
        return s == null || s.isEmpty() ? "-" : s.replace("\"", "\\\"");
    }
}
