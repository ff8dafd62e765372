package io.streamgate.observe;

import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * The {@code combined} access log format: nginx's combined format, so existing log tooling parses the start of the
 * line, followed by key=value fields nginx does not have.
 *
 * <p>Every value is escaped the way nginx escapes its log variables, so nothing a client sends (URI, User-Agent,
 * Referer, request id) can end the line or close a quoted field and forge another one: {@code "}, {@code \},
 * control characters and everything outside printable ASCII become {@code \xHH} (the character's ISO-8859-1 byte,
 * which for header and URI text is the byte the client sent) or {@code \}{@code uHHHH} above U+00FF. In the unquoted
 * key=value fields a space is escaped too, so a value can never pass for the next field.
 *
 * <p>Not thread-safe: each thread keeps one and reuses its buffer (see {@link AccessLog}).
 */
final class CombinedLine {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT).withZone(ZoneOffset.UTC);
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private final StringBuilder sb = new StringBuilder(512);
    private final SecondText time = new SecondText(TIME);

    /** The line, in this instance's buffer: valid until its next call. */
    CharSequence format(ExchangeRecord r) {
        sb.setLength(0);
        value(r.clientIp);
        sb.append(" - - [").append(time.of(r.startEpochMillis)).append("] \"");
        quoted(r.method);
        sb.append(' ');
        quoted(r.uri);
        sb.append(' ');
        quoted(r.protocol);
        sb.append("\" ").append(r.status).append(' ').append(r.bytesOut).append(" \"");
        quoted(r.referer);
        sb.append("\" \"");
        quoted(r.userAgent);
        sb.append('"');
        field(" rid=", r.requestId);
        field(" identity=", r.identity);
        field(" route=", r.route);
        field(" upstream=", r.upstreamEndpoint);
        sb.append(" in=").append(r.bytesIn).append(" dur_ms=");
        millis(r.durationNanos);
        sb.append(" ttfb_ms=");
        if (r.firstByteNanos < 0) {
            sb.append('-');
        } else {
            millis(r.firstByteNanos);
        }
        if (r.eventStream && r.firstBodyNanos >= 0) {
            sb.append(" ttft_ms="); // time to first token: the first event of a stream, after the headers
            millis(r.firstBodyNanos);
        }
        if (r.promptTokens >= 0 || r.completionTokens >= 0) {
            sb.append(" tokens_in=").append(Math.max(0, r.promptTokens))
                    .append(" tokens_out=").append(Math.max(0, r.completionTokens));
            if (r.tokensEstimated) {
                sb.append(" tokens_estimated=1");
            }
        }
        if (r.cacheStatus != null) {
            field(" cache=", r.cacheStatus);
        }
        if (r.clientCert != null) {
            sb.append(" client_cert=\"");
            quoted(r.clientCert);
            sb.append('"');
        }
        if (r.note != null) {
            field(" note=", r.note);
        }
        return sb;
    }

    private void field(String key, String value) {
        sb.append(key);
        value(value);
    }

    /** A value inside double quotes: spaces stay as they are, as in nginx. */
    private void quoted(String s) {
        escaped(s, true);
    }

    /** A value that ends at the next space. */
    private void value(String s) {
        escaped(s, false);
    }

    /** Writes {@code -} for a missing value, as nginx does. */
    private void escaped(String s, boolean spaceAllowed) {
        if (s == null || s.isEmpty()) {
            sb.append('-');
            return;
        }
        // Values are almost always plain: copy runs of safe characters in one append, not one char at a time.
        int run = 0;
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if ((c > ' ' && c < 0x7f && c != '"' && c != '\\') || (c == ' ' && spaceAllowed)) {
                continue;
            }
            sb.append(s, run, i);
            run = i + 1;
            if (c <= 0xff) {
                sb.append("\\x").append(HEX[c >> 4]).append(HEX[c & 0xf]);
            } else {
                sb.append("\\u").append(HEX[c >> 12]).append(HEX[(c >> 8) & 0xf]).append(HEX[(c >> 4) & 0xf]).append(HEX[c & 0xf]);
            }
        }
        if (run == 0) {
            sb.append(s); // nothing escaped: one array copy
        } else {
            sb.append(s, run, s.length());
        }
    }

    /** Milliseconds with one decimal, without String.format's cost on every request. */
    private void millis(long nanos) {
        long tenths = Math.max(0, nanos) / 100_000;
        sb.append(tenths / 10).append('.').append(tenths % 10);
    }
}
