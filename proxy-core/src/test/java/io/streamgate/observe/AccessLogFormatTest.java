package io.streamgate.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.streamgate.config.AccessLogConfig.Format;
import io.streamgate.testing.AccessLogCapture;
import java.io.IOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class AccessLogFormatTest {
    private static final JsonFactory JSON = new JsonFactory();

    /** The nginx combined prefix: address, time, then three quoted fields (request, referer, user agent). */
    private static final Pattern COMBINED_PREFIX =
            Pattern.compile("^(\\S+) - - \\[([^\\]]+)\\] \"([^\"]*)\" (\\d{3}) (\\d+) \"([^\"]*)\" \"([^\"]*)\"(.*)$");

    /** Everything a client can put in the user agent to break a log line, and text beyond Latin-1. */
    private static final String HOSTILE_AGENT =
            "evil\" 200 0 \"-\" \"x\r\nforged\u0000 \\x22 \u00e9\u65e5\ud83d\ude00";

    // --- combined ---------------------------------------------------------------------------------------------

    @Test
    void combinedLineOfACompleteExchange() {
        assertEquals("203.0.113.7 - - [01/Mar/2025:12:00:05 +0000] \"POST /v1/chat/completions?x=1 HTTP/1.1\" 200 5120 "
                        + "\"https://app.example/\" \"curl/8.5.0\" rid=req-1 identity=alice route=chat upstream=10.0.0.5:8000 "
                        + "in=342 dur_ms=1234.5 ttfb_ms=0.9 tokens_in=12 tokens_out=34 tokens_estimated=1 cache=MISS "
                        + "client_cert=\"CN=client-alice, O=Example\" note=upstream_reset",
                AccessLog.line(complete(), Format.COMBINED));
    }

    @Test
    void combinedLineOfAClientAbort() {
        assertEquals("192.0.2.9 - - [01/Mar/2025:12:00:05 +0000] \"POST /v1/chat/completions HTTP/2.0\" 499 2048 "
                        + "\"-\" \"python-httpx/0.27\" rid=req-3 identity=bob route=chat upstream=10.0.0.5:8000 "
                        + "in=80 dur_ms=5000.0 ttfb_ms=120.0 note=client_closed",
                AccessLog.line(aborted(), Format.COMBINED));
    }

    @Test
    void combinedLineWithNothingOptional() {
        assertEquals("198.51.100.1 - - [31/Dec/2025:23:59:59 +0000] \"GET /nope HTTP/1.0\" 404 120 \"-\" \"-\" "
                        + "rid=req-2 identity=- route=- upstream=- in=0 dur_ms=0.2 ttfb_ms=-",
                AccessLog.line(minimal(), Format.COMBINED));
    }

    @Test
    void combinedLineEscapesWhatAClientSendsLikeNginx() {
        ExchangeRecord r = complete();
        r.userAgent = HOSTILE_AGENT;
        r.referer = "https://a.example/\t\"x";
        r.uri = "/v1/x?q=\"><b>\\";
        r.requestId = "a\"b";
        r.identity = "mallory route=admin";
        r.clientCert = "CN=\"quoted\"\n";
        String line = AccessLog.line(r, Format.COMBINED);

        assertTrue(line.chars().allMatch(c -> c >= 0x20 && c < 0x7f), () -> "raw control or non-ASCII: " + line);
        Matcher m = COMBINED_PREFIX.matcher(line);
        assertTrue(m.matches(), line);
        assertEquals("POST /v1/x?q=\\x22><b>\\x5C HTTP/1.1", m.group(3));
        assertEquals("https://a.example/\\x09\\x22x", m.group(6));
        assertEquals("evil\\x22 200 0 \\x22-\\x22 \\x22x\\x0D\\x0Aforged\\x00 \\x5Cx22 \\xE9\\u65E5\\uD83D\\uDE00", m.group(7));
        assertEquals(" rid=a\\x22b identity=mallory\\x20route=admin route=chat upstream=10.0.0.5:8000 in=342 dur_ms=1234.5"
                        + " ttfb_ms=0.9 tokens_in=12 tokens_out=34 tokens_estimated=1 cache=MISS"
                        + " client_cert=\"CN=\\x22quoted\\x22\\x0A\" note=upstream_reset",
                m.group(8));
        assertEquals(8, line.chars().filter(c -> c == '"').count(), "only the format's own quotes: " + line);
    }

    // --- json -------------------------------------------------------------------------------------------------

    @Test
    void jsonLineOfACompleteExchangeHasEveryFieldWithItsType() throws IOException {
        Map<String, Object> expected = fields(
                "time", "2025-03-01T12:00:05.042Z",
                "request_id", "req-1",
                "client_ip", "203.0.113.7",
                "identity", "alice",
                "method", "POST",
                "path", "/v1/chat/completions?x=1",
                "protocol", "HTTP/1.1",
                "route", "chat",
                "upstream", "10.0.0.5:8000",
                "status", 200L,
                "bytes_in", 342L,
                "bytes_out", 5120L,
                "duration_ms", new BigDecimal("1234.5"),
                "ttfb_ms", new BigDecimal("0.9"),
                "ttft_ms", null,
                "prompt_tokens", 12L,
                "completion_tokens", 34L,
                "tokens_estimated", true,
                "cache", "MISS",
                "user_agent", "curl/8.5.0",
                "referer", "https://app.example/",
                "client_cert", "CN=client-alice, O=Example",
                "note", "upstream_reset");
        assertObject(expected, AccessLog.line(complete(), Format.JSON));
    }

    @Test
    void jsonLineWritesNullForWhatIsUnknownAndLeavesOutWhatIsAbsent() throws IOException {
        Map<String, Object> expected = fields(
                "time", "2025-12-31T23:59:59.000Z",
                "request_id", "req-2",
                "client_ip", "198.51.100.1",
                "identity", null,
                "method", "GET",
                "path", "/nope",
                "protocol", "HTTP/1.0",
                "route", null,
                "upstream", null,
                "status", 404L,
                "bytes_in", 0L,
                "bytes_out", 120L,
                "duration_ms", new BigDecimal("0.2"),
                "ttfb_ms", null,
                "ttft_ms", null,
                "prompt_tokens", null,
                "completion_tokens", null,
                "tokens_estimated", false,
                "cache", null,
                "user_agent", null,
                "referer", null);
        assertObject(expected, AccessLog.line(minimal(), Format.JSON));
    }

    @Test
    void jsonLineOfAClientAbort() throws IOException {
        Map<String, Object> fields = parseObject(AccessLog.line(aborted(), Format.JSON));
        assertEquals(499L, fields.get("status"));
        assertEquals("client_closed", fields.get("note"));
        assertEquals("HTTP/2.0", fields.get("protocol"));
        assertEquals(new BigDecimal("5000.0"), fields.get("duration_ms"));
        assertEquals(new BigDecimal("120.0"), fields.get("ttfb_ms"));
    }

    @Test
    void jsonLineKeepsHostileTextIntactAndOnOneAsciiLine() throws IOException {
        ExchangeRecord r = complete();
        r.userAgent = HOSTILE_AGENT;
        r.uri = "/v1/x?q=\"}\n{\"status\":200";
        r.identity = "\u00e9ve \u2028";
        r.referer = "del\u007f\u0000"; // DEL is a control character JSON itself lets through raw
        String line = AccessLog.line(r, Format.JSON);

        assertTrue(line.chars().allMatch(c -> c >= 0x20 && c < 0x7f), () -> "raw control or non-ASCII: " + line);
        Map<String, Object> fields = parseObject(line);
        assertEquals(HOSTILE_AGENT, fields.get("user_agent"));
        assertEquals(r.uri, fields.get("path"));
        assertEquals(r.identity, fields.get("identity"));
        assertEquals(r.referer, fields.get("referer"));
        assertTrue(line.contains("\"del\\u007F\\u0000\""), line);
        assertEquals(200L, fields.get("status"));
    }

    @Test
    void jsonLinesOnOneThreadShareNothingButTheBuffer() throws IOException {
        String first = AccessLog.line(complete(), Format.JSON);
        String second = AccessLog.line(minimal(), Format.JSON);
        String third = AccessLog.line(complete(), Format.JSON);
        assertEquals(first, third);
        assertTrue(second.startsWith("{\"time\":\"2025-12-31T23:59:59.000Z\""), second);
        assertEquals("req-2", parseObject(second).get("request_id"));
    }

    @Test
    void jsonTimeHasMillisecondsInUtc() throws IOException {
        ExchangeRecord r = minimal();
        r.startEpochMillis = Instant.parse("2024-02-29T00:00:00.007Z").toEpochMilli();
        assertEquals("2024-02-29T00:00:00.007Z", parseObject(AccessLog.line(r, Format.JSON)).get("time"));
        r.startEpochMillis = Instant.parse("2024-02-29T00:00:00.999Z").toEpochMilli();
        assertEquals("2024-02-29T00:00:00.999Z", parseObject(AccessLog.line(r, Format.JSON)).get("time"));
        r.startEpochMillis = Instant.parse("2024-02-29T00:00:01.500Z").toEpochMilli();
        assertEquals("2024-02-29T00:00:01.500Z", parseObject(AccessLog.line(r, Format.JSON)).get("time"));
    }

    // --- the logger -------------------------------------------------------------------------------------------

    @Test
    void useFormatChangesTheLinesLogged() throws IOException {
        List<String> lines;
        try (AccessLogCapture capture = AccessLogCapture.capture()) {
            AccessLog.useFormat(Format.JSON);
            AccessLog.log(complete());
            AccessLog.useFormat(Format.COMBINED);
            AccessLog.log(aborted());
            lines = capture.lines();
        } finally {
            AccessLog.useFormat(Format.COMBINED);
        }
        assertEquals(2, lines.size(), lines::toString);
        assertEquals("req-1", parseObject(lines.get(0)).get("request_id"));
        assertEquals(AccessLog.line(aborted(), Format.COMBINED), lines.get(1));
    }

    @Test
    void useFormatRefusesNull() {
        assertThrows(NullPointerException.class, () -> AccessLog.useFormat(null));
    }

    // --- records ----------------------------------------------------------------------------------------------

    private static ExchangeRecord complete() {
        ExchangeRecord r = new ExchangeRecord();
        r.requestId = "req-1";
        r.clientIp = "203.0.113.7";
        r.method = "POST";
        r.uri = "/v1/chat/completions?x=1";
        r.protocol = "HTTP/1.1";
        r.userAgent = "curl/8.5.0";
        r.referer = "https://app.example/";
        r.identity = "alice";
        r.clientCert = "CN=client-alice, O=Example";
        r.route = "chat";
        r.upstreamEndpoint = "10.0.0.5:8000";
        r.status = 200;
        r.bytesIn = 342;
        r.bytesOut = 5120;
        r.startEpochMillis = Instant.parse("2025-03-01T12:00:05.042Z").toEpochMilli();
        r.durationNanos = 1_234_567_890L;
        r.firstByteNanos = 987_654L;
        r.promptTokens = 12;
        r.completionTokens = 34;
        r.tokensEstimated = true;
        r.cacheStatus = "MISS";
        r.note = "upstream_reset";
        return r;
    }

    /** A request the gateway refused before routing: most fields never got a value. */
    private static ExchangeRecord minimal() {
        ExchangeRecord r = new ExchangeRecord();
        r.requestId = "req-2";
        r.clientIp = "198.51.100.1";
        r.method = "GET";
        r.uri = "/nope";
        r.protocol = "HTTP/1.0";
        r.status = 404;
        r.bytesOut = 120;
        r.startEpochMillis = Instant.parse("2025-12-31T23:59:59Z").toEpochMilli();
        r.durationNanos = 250_000L;
        return r;
    }

    /** A streamed HTTP/2 answer the client walked away from: the relay set 499 and the note. */
    private static ExchangeRecord aborted() {
        ExchangeRecord r = new ExchangeRecord();
        r.requestId = "req-3";
        r.clientIp = "192.0.2.9";
        r.method = "POST";
        r.uri = "/v1/chat/completions";
        r.protocol = "HTTP/2.0";
        r.userAgent = "python-httpx/0.27";
        r.identity = "bob";
        r.route = "chat";
        r.upstreamEndpoint = "10.0.0.5:8000";
        r.status = 499;
        r.bytesIn = 80;
        r.bytesOut = 2048;
        r.startEpochMillis = Instant.parse("2025-03-01T12:00:05.900Z").toEpochMilli();
        r.durationNanos = 5_000_000_000L;
        r.firstByteNanos = 120_000_000L;
        r.note = "client_closed";
        return r;
    }

    // --- json helpers -----------------------------------------------------------------------------------------

    private static void assertObject(Map<String, Object> expected, String line) throws IOException {
        Map<String, Object> actual = parseObject(line);
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()), "field names and order");
        for (Map.Entry<String, Object> e : expected.entrySet()) {
            Object value = actual.get(e.getKey());
            assertEquals(e.getValue(), value, e.getKey());
            if (e.getValue() != null) {
                assertEquals(e.getValue().getClass(), value.getClass(), () -> "JSON type of " + e.getKey());
            }
        }
    }

    /**
     * The line as one flat JSON object: strings, integers as Long, decimals as BigDecimal, booleans, null. Fails
     * on anything else, on a repeated name and on anything after the object.
     */
    private static Map<String, Object> parseObject(String line) throws IOException {
        assertFalse(line.contains("\n"), line);
        Map<String, Object> fields = new LinkedHashMap<>();
        try (JsonParser p = JSON.createParser(line)) {
            assertEquals(JsonToken.START_OBJECT, p.nextToken(), line);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken token = p.nextToken();
                Object value = switch (token) {
                    case VALUE_STRING -> p.getText();
                    case VALUE_NUMBER_INT -> p.getLongValue();
                    case VALUE_NUMBER_FLOAT -> p.getDecimalValue();
                    case VALUE_TRUE, VALUE_FALSE -> p.getBooleanValue();
                    case VALUE_NULL -> null;
                    default -> fail("unexpected " + token + " for " + name + " in " + line);
                };
                assertFalse(fields.containsKey(name), () -> "repeated " + name + " in " + line);
                fields.put(name, value);
            }
            assertEquals(JsonToken.END_OBJECT, p.currentToken(), line);
            assertNull(p.nextToken(), () -> "more than one value in " + line);
        }
        assertNotNull(fields.get("request_id"), line);
        return fields;
    }

    private static Map<String, Object> fields(Object... namesAndValues) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            map.put((String) namesAndValues[i], namesAndValues[i + 1]);
        }
        assertEquals(namesAndValues.length / 2, map.size(), () -> "duplicate in " + Arrays.toString(namesAndValues));
        return map;
    }

    @Test
    void eventStreamsCarryTheTimeToTheirFirstEvent() {
        ExchangeRecord r = complete();
        r.eventStream = true;
        r.firstBodyNanos = 412_700_000L;
        assertTrue(AccessLog.line(r, Format.COMBINED).contains(" ttfb_ms=0.9 ttft_ms=412.7 "),
                AccessLog.line(r, Format.COMBINED));
        assertTrue(AccessLog.line(r, Format.JSON).contains("\"ttfb_ms\":0.9,\"ttft_ms\":412.7,"), AccessLog.line(r, Format.JSON));
        r.eventStream = false; // a plain response: its first body byte is no "token"
        assertTrue(AccessLog.line(r, Format.JSON).contains("\"ttft_ms\":null"));
        assertFalse(AccessLog.line(r, Format.COMBINED).contains("ttft_ms"));
    }
}
