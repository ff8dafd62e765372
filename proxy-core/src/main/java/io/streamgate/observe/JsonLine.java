package io.streamgate.observe;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * The {@code json} access log format: one JSON object per line. jackson does all escaping; non-ASCII and DEL are
 * escaped too ({@code \}{@code uHHHH}), so a line is plain ASCII whatever the file's encoding and holds no control
 * characters, and a control character or quote from a client can never end the line or the string.
 *
 * <p>One generator writes every line of its thread, as bytes, into the same buffer (root values without a separator),
 * which is what the access log hands on: formatting a line allocates nothing but jackson's number text. The generator has its own buffers rather
 * than jackson's per-thread recycler: it holds them for the thread's lifetime, which would otherwise leave other
 * jackson users on the event loop (the LLM usage scanners) allocating fresh ones.
 *
 * <p>Not thread-safe: each thread keeps one (see {@link AccessLog}). After an exception the instance must be
 * discarded, because the generator may be left inside an unfinished object.
 */
final class JsonLine {
    private static final JsonFactory FACTORY = new JsonFactoryBuilder()
            .enable(JsonWriteFeature.ESCAPE_NON_ASCII)
            .characterEscapes(new DelEscapes())
            .rootValueSeparator((String) null)
            .recyclerPool(JsonRecyclerPools.nonRecyclingPool())
            .build();
    private static final DateTimeFormatter SECOND =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss", Locale.ROOT).withZone(ZoneOffset.UTC);

    /** The line as the access log hands it on: ASCII, since every non-ASCII character is escaped. */
    private final LineBytes bytes = new LineBytes(768);
    private final JsonGenerator json;
    private final SecondText second = new SecondText(SECOND);
    /** "yyyy-MM-ddTHH:mm:ss.SSSZ" and the digits of the durations, assembled without a String. */
    private final char[] scratch = new char[32];

    JsonLine() {
        try {
            json = FACTORY.createGenerator(new LineOutput(bytes), JsonEncoding.UTF8);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // creating a generator on this stream does no I/O
        }
    }

    /** The line, in this instance's buffer: valid until its next call. */
    LineBytes format(ExchangeRecord r) throws IOException {
        bytes.clear();
        json.writeStartObject();
        json.writeFieldName("time");
        time(r.startEpochMillis);
        json.writeStringField("request_id", r.requestId);
        json.writeStringField("client_ip", r.clientIp);
        json.writeStringField("identity", r.identity);
        json.writeStringField("method", r.method);
        json.writeStringField("path", r.uri);
        json.writeStringField("protocol", r.protocol);
        json.writeStringField("route", r.route);
        json.writeStringField("upstream", r.upstreamEndpoint);
        json.writeNumberField("status", r.status);
        json.writeNumberField("bytes_in", r.bytesIn);
        json.writeNumberField("bytes_out", r.bytesOut);
        json.writeFieldName("duration_ms");
        millis(r.durationNanos);
        json.writeFieldName("ttfb_ms");
        if (r.firstByteNanos < 0) {
            json.writeNull();
        } else {
            millis(r.firstByteNanos);
        }
        json.writeFieldName("ttft_ms"); // time to first token: the first event of a stream, after the headers
        if (r.eventStream && r.firstBodyNanos >= 0) {
            millis(r.firstBodyNanos);
        } else {
            json.writeNull();
        }
        countOrNull("prompt_tokens", r.promptTokens);
        countOrNull("completion_tokens", r.completionTokens);
        json.writeBooleanField("tokens_estimated", r.tokensEstimated);
        json.writeStringField("cache", r.cacheStatus);
        json.writeStringField("user_agent", r.userAgent);
        json.writeStringField("referer", r.referer);
        if (r.clientCert != null) {
            json.writeStringField("client_cert", r.clientCert);
        }
        if (r.note != null) {
            json.writeStringField("note", r.note);
        }
        json.writeEndObject();
        json.flush();
        return bytes;
    }

    private void countOrNull(String name, long count) throws IOException {
        if (count < 0) {
            json.writeNullField(name);
        } else {
            json.writeNumberField(name, count);
        }
    }

    /** ISO-8601 in UTC with milliseconds, e.g. 2025-03-01T12:00:05.042Z. */
    private void time(long epochMillis) throws IOException {
        String s = second.of(epochMillis);
        int n = s.length();
        s.getChars(0, n, scratch, 0);
        int ms = (int) Math.floorMod(epochMillis, 1000L);
        scratch[n] = '.';
        scratch[n + 1] = (char) ('0' + ms / 100);
        scratch[n + 2] = (char) ('0' + ms / 10 % 10);
        scratch[n + 3] = (char) ('0' + ms % 10);
        scratch[n + 4] = 'Z';
        json.writeString(scratch, 0, n + 5);
    }

    /** Milliseconds with one decimal, the precision of the combined format. */
    private void millis(long nanos) throws IOException {
        long tenths = Math.max(0, nanos) / 100_000;
        int end = scratch.length;
        int pos = end;
        scratch[--pos] = (char) ('0' + tenths % 10);
        scratch[--pos] = '.';
        long whole = tenths / 10;
        do {
            scratch[--pos] = (char) ('0' + whole % 10);
            whole /= 10;
        } while (whole > 0);
        json.writeNumber(scratch, pos, end - pos);
    }

    /**
     * JSON's own escapes plus DEL (U+007F), which JSON lets through raw although it is a control character, and which
     * a client can put in a request target or (over HTTP/2) a header value.
     */
    private static final class DelEscapes extends CharacterEscapes {
        private static final int[] ASCII = standardAsciiEscapesForJSON();

        static {
            ASCII[0x7f] = ESCAPE_STANDARD;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return ASCII;
        }

        @Override
        public SerializableString getEscapeSequence(int ch) {
            return null; // only called for characters above ASCII, which ESCAPE_NON_ASCII escapes first
        }
    }

    /** The generator's output goes straight into the line's bytes; nothing here can fail or needs flushing. */
    private static final class LineOutput extends OutputStream {
        private final LineBytes out;

        LineOutput(LineBytes out) {
            this.out = out;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            out.append(b, off, len);
        }

        @Override
        public void write(int b) {
            out.append((char) b);
        }
    }
}
