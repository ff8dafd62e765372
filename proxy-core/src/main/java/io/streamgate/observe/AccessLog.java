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
                .append(" identity=").append(orDash(r.identity))
                .append(" route=").append(orDash(r.route))
                .append(" upstream=").append(orDash(r.upstreamEndpoint))
                .append(" in=").append(r.bytesIn)
                .append(" dur_ms=");
        appendMillis(sb, r.durationNanos).append(" ttfb_ms=");
        if (r.firstByteNanos < 0) {
            sb.append('-');
        } else {
            appendMillis(sb, r.firstByteNanos);
        }
        if (r.promptTokens >= 0 || r.completionTokens >= 0) {
            sb.append(" tokens_in=").append(Math.max(0, r.promptTokens)).append(" tokens_out=").append(Math.max(0, r.completionTokens));
            if (r.tokensEstimated) {
                sb.append(" tokens_estimated=1");
            }
        }
        if (r.cacheStatus != null) {
            sb.append(" cache=").append(r.cacheStatus);
        }
        if (r.clientCert != null) {
            sb.append(" client_cert=\"").append(orDash(r.clientCert)).append('"');
        }
        if (r.note != null) {
            sb.append(" note=").append(r.note);
        }
        LOG.info(sb.toString());
    }

    /** Milliseconds with one decimal, without String.format's cost on every request. */
    private static StringBuilder appendMillis(StringBuilder sb, long nanos) {
        long tenths = Math.max(0, nanos) / 100_000;
        return sb.append(tenths / 10).append('.').append(tenths % 10);
    }

    private static String orDash(String s) {
        return s == null || s.isEmpty() ? "-" : s.replace("\"", "\\\"");
    }
}
