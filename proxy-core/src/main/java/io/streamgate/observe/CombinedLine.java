package io.streamgate.observe;

import java.nio.charset.StandardCharsets;
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
 * <p>The line is written as ASCII bytes ({@link LineBytes}), the form its output wants.
 *
 * <p>Not thread-safe: each thread keeps one and reuses its buffer (see {@link AccessLog}).
 */
final class CombinedLine {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT).withZone(ZoneOffset.UTC);
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();
    private static final byte[] AFTER_IP = ascii(" - - [");
    private static final byte[] AFTER_TIME = ascii("] \"");
    private static final byte[] QUOTE_SPACE_QUOTE = ascii("\" \"");
    private static final byte[] RID = ascii(" rid=");
    private static final byte[] IDENTITY = ascii(" identity=");
    private static final byte[] ROUTE = ascii(" route=");
    private static final byte[] UPSTREAM = ascii(" upstream=");
    private static final byte[] IN = ascii(" in=");
    private static final byte[] DURATION = ascii(" dur_ms=");
    private static final byte[] TTFB = ascii(" ttfb_ms=");
    private static final byte[] TTFT = ascii(" ttft_ms=");
    private static final byte[] TOKENS_IN = ascii(" tokens_in=");
    private static final byte[] TOKENS_OUT = ascii(" tokens_out=");
    private static final byte[] TOKENS_ESTIMATED = ascii(" tokens_estimated=1");
    private static final byte[] CACHE = ascii(" cache=");
    private static final byte[] CLIENT_CERT = ascii(" client_cert=\"");
    private static final byte[] NOTE = ascii(" note=");

    private final LineBytes line = new LineBytes(512);
    private final SecondText time = new SecondText(TIME);

    /** The line, in this instance's buffer: valid until its next call. */
    LineBytes format(ExchangeRecord r) {
        line.clear();
        value(r.clientIp);
        line.append(AFTER_IP).appendAscii(time.of(r.startEpochMillis)).append(AFTER_TIME);
        quoted(r.method);
        line.append(' ');
        quoted(r.uri);
        line.append(' ');
        quoted(r.protocol);
        line.append('"').append(' ').append(r.status).append(' ').append(r.bytesOut).append(' ').append('"');
        quoted(r.referer);
        line.append(QUOTE_SPACE_QUOTE);
        quoted(r.userAgent);
        line.append('"');
        field(RID, r.requestId);
        field(IDENTITY, r.identity);
        field(ROUTE, r.route);
        field(UPSTREAM, r.upstreamEndpoint);
        line.append(IN).append(r.bytesIn).append(DURATION);
        millis(r.durationNanos);
        line.append(TTFB);
        if (r.firstByteNanos < 0) {
            line.append('-');
        } else {
            millis(r.firstByteNanos);
        }
        if (r.eventStream && r.firstBodyNanos >= 0) {
            line.append(TTFT); // time to first token: the first event of a stream, after the headers
            millis(r.firstBodyNanos);
        }
        if (r.promptTokens >= 0 || r.completionTokens >= 0) {
            line.append(TOKENS_IN).append(Math.max(0, r.promptTokens))
                    .append(TOKENS_OUT).append(Math.max(0, r.completionTokens));
            if (r.tokensEstimated) {
                line.append(TOKENS_ESTIMATED);
            }
        }
        if (r.cacheStatus != null) {
            field(CACHE, r.cacheStatus);
        }
        if (r.clientCert != null) {
            line.append(CLIENT_CERT);
            quoted(r.clientCert);
            line.append('"');
        }
        if (r.note != null) {
            field(NOTE, r.note);
        }
        return line;
    }

    private void field(byte[] key, String value) {
        line.append(key);
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

    /** Writes {@code -} for a missing value, as nginx does. One pass: each character is checked and written. */
    private void escaped(String s, boolean spaceAllowed) {
        if (s == null || s.isEmpty()) {
            line.append('-');
            return;
        }
        int n = s.length();
        line.ensure(n);
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if ((c > ' ' && c < 0x7f && c != '"' && c != '\\') || (c == ' ' && spaceAllowed)) {
                line.put((byte) c);
            } else {
                escape(c);
                line.ensure(n - i - 1); // the rest may still be plain
            }
        }
    }

    private void escape(char c) {
        if (c <= 0xff) {
            line.append('\\').append('x').append(HEX[c >> 4]).append(HEX[c & 0xf]);
        } else {
            line.append('\\').append('u').append(HEX[c >> 12]).append(HEX[(c >> 8) & 0xf])
                    .append(HEX[(c >> 4) & 0xf]).append(HEX[c & 0xf]);
        }
    }

    /** Milliseconds with one decimal, without String.format's cost on every request. */
    private void millis(long nanos) {
        long tenths = Math.max(0, nanos) / 100_000;
        line.append(tenths / 10).append('.').append(tenths % 10);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
