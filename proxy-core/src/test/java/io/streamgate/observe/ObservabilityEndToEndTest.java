package io.streamgate.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.codec.http2.Http2Headers;
import io.streamgate.Streamgate;
import io.streamgate.policy.ratelimit.NanoClock;
import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawH2Client;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RefusingPort;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The JSON access log and the endpoint health meters after real traffic through real sockets. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ObservabilityEndToEndTest {
    private static final JsonFactory JSON = new JsonFactory();

    @Test
    void jsonAccessLogRecordsAnsweredAndAbandonedRequests() throws Exception {
        try (TestBackend backend = TestBackend.builder().respond(exchange -> {
                    if (exchange.uri().startsWith("/slow")) {
                        return; // never answers: the client gives up
                    }
                    Responders.text(200, "hello").respond(exchange);
                }).start();
             RunningProxy proxy = RunningProxy.forwardingTo(backend);
             AccessLogCapture log = AccessLogCapture.capture()) {
            AccessLog.useFormat(io.streamgate.config.AccessLogConfig.Format.JSON);
            try {
                try (RawHttpClient client = proxy.connect()) {
                    assertEquals(200, client.get("/fast", "X-Request-Id: json-ok", "User-Agent: a \"quoted\" agent")
                            .readResponse().status());
                }
                try (RawHttpClient client = proxy.connect()) {
                    client.get("/slow", "X-Request-Id: json-abort");
                    backend.takeExchange();
                }
                try (RawHttpClient client = proxy.connect()) {
                    // Refused (400), and logged with the target as received: DEL, a control character, included.
                    assertEquals(400, client.get("/del\u007f", "X-Request-Id: json-del").readResponse().status());
                }
                Map<String, Object> ok = parse(log.awaitLine(l -> l.contains("\"json-ok\""), 5_000));
                assertEquals(200L, ok.get("status"));
                assertEquals("GET", ok.get("method"));
                assertEquals("/fast", ok.get("path"));
                assertEquals("a \"quoted\" agent", ok.get("user_agent"));
                assertEquals(5L, ok.get("bytes_out"));
                assertEquals("127.0.0.1:" + backend.port(), ok.get("upstream"), "host:port, as nginx's $upstream_addr");
                assertNotNull(ok.get("ttfb_ms"));
                Map<String, Object> abort = parse(log.awaitLine(l -> l.contains("\"json-abort\""), 5_000));
                assertEquals(499L, abort.get("status"));
                assertEquals("client_closed", abort.get("note"));
                assertEquals(null, abort.get("ttfb_ms"));
                String del = log.awaitLine(l -> l.contains("\"json-del\""), 5_000);
                assertTrue(del.chars().allMatch(c -> c >= 0x20 && c < 0x7f), () -> "raw control character: " + del);
                assertEquals("/del\u007f", parse(del).get("path"));
            } finally {
                AccessLog.useFormat(io.streamgate.config.AccessLogConfig.Format.COMBINED);
            }
        }
    }

    @Test
    void endpointHealthFollowsConnectOutcomes() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (RefusingPort refusing = RefusingPort.open();
             TestBackend backend = TestBackend.answering("ok");
             RunningProxy proxy = RunningProxy.start("""
                     server:
                       listen: "127.0.0.1:0"
                     upstreams:
                       down:
                         endpoints: ["http://127.0.0.1:%d"]
                       good:
                         endpoints: ["%s"]
                     routes:
                       - path_prefix: /down
                         upstream: down
                       - path_prefix: /
                         upstream: good
                     """.formatted(refusing.port(), backend.url()), new Streamgate.Options(registry, NanoClock.SYSTEM))) {
            try (RawHttpClient client = proxy.connect()) {
                assertEquals(502, client.get("/down").readResponse().status());
            }
            try (RawHttpClient client = proxy.connect()) {
                assertEquals(200, client.get("/up").readResponse().status());
            }
            String down = refusing.url();
            assertEquals(0.0, registry.get("streamgate.upstream.up").tag("endpoint", down).gauge().value());
            assertEquals(1.0, registry.get("streamgate.upstream.connect.failures").tag("endpoint", down).functionCounter().count());
            assertEquals(1.0, registry.get("streamgate.upstream.up").tag("endpoint", backend.url()).gauge().value());
            assertEquals(1.0, registry.get("streamgate.requests").tag("status", "502").counter().count());
            assertTrue(registry.get("streamgate.upstream.acquire").tag("endpoint", backend.url()).timer().count() >= 1);
        }
    }

    /**
     * Requests the gateway refuses before it could read them whole (a smuggling attempt with both Content-Length and
     * Transfer-Encoding, a request line too long for the limit) are answered with 400 and 414 like every other error,
     * and, as the errors section says of every answer, get an access log line and count in streamgate_requests_total:
     * they got neither, so an attack was invisible in the log and the metrics.
     */
    @Test
    void requestsRefusedBeforeTheyWereReadAreLoggedAndCounted() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (TestBackend backend = TestBackend.answering("ok");
             RunningProxy proxy = RunningProxy.start("""
                     server:
                       listen: "127.0.0.1:0"
                     upstreams:
                       llm:
                         endpoints: ["%s"]
                     routes:
                       - path_prefix: /
                         upstream: llm
                     """.formatted(backend.url()), new Streamgate.Options(registry, NanoClock.SYSTEM));
             AccessLogCapture log = AccessLogCapture.capture()) {
            try (RawHttpClient client = proxy.connect()) {
                client.send("POST /smuggle HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n");
                assertEquals(400, client.readResponse().status());
            }
            try (RawHttpClient client = proxy.connect()) {
                client.send("GET /" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: a\r\n\r\n");
                assertEquals(414, client.readResponse().status());
            }
            assertNotNull(log.awaitLine(l -> l.contains("\" 400 "), 2_000), () -> "no access log line for the 400: " + log.lines());
            assertNotNull(log.awaitLine(l -> l.contains("\" 414 "), 2_000), () -> "no access log line for the 414: " + log.lines());
            assertEquals(1.0, requests(registry, "400"), "streamgate.requests{status=400}");
            assertEquals(1.0, requests(registry, "414"), "streamgate.requests{status=414}");
            assertEquals(0, backend.received().size());
        }
    }

    /**
     * A request refused for its header fields (too many, too large, Content-Length with Transfer-Encoding, a transfer
     * coding we cannot relay) had its request line read: it is logged with it, as nginx logs its 400s and 431s, so a
     * smuggling attempt shows what it aimed at. Only a request line that could not be read leaves "- - -".
     */
    @Test
    void requestsRefusedForTheirHeaderFieldsAreLoggedWithTheirRequestLine() throws Exception {
        try (TestBackend backend = TestBackend.answering("ok");
             RunningProxy proxy = RunningProxy.start("""
                     server:
                       listen: "127.0.0.1:0"
                       limits:
                         max_headers: 8
                         max_header_size: 1KiB
                         max_request_line: 1KiB
                     upstreams:
                       llm:
                         endpoints: ["%s"]
                     routes:
                       - path_prefix: /
                         upstream: llm
                     """.formatted(backend.url()));
             AccessLogCapture log = AccessLogCapture.capture()) {
            refuse(proxy, "POST /smuggle HTTP/1.1\r\nHost: a\r\nX-Request-Id: rid-smuggle\r\nUser-Agent: sneaky\r\n"
                    + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
            refuse(proxy, "POST /gzipped HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400);
            refuse(proxy, "GET /many HTTP/1.1\r\nHost: a\r\n" + "X-A: 1\r\n".repeat(10) + "\r\n", 431);
            refuse(proxy, "GET /big HTTP/1.1\r\nHost: a\r\nX-Big: " + "b".repeat(2_000) + "\r\n\r\n", 431);
            refuse(proxy, "GET /" + "a".repeat(2_000) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414);

            String smuggle = log.awaitLine(l -> l.contains(" 400 ") && l.contains("/smuggle"), 2_000);
            assertNotNull(smuggle, () -> "no line naming the smuggling attempt: " + log.lines());
            assertTrue(smuggle.contains("\"POST /smuggle HTTP/1.1\" 400 ") && smuggle.contains("\"sneaky\" rid=rid-smuggle "),
                    smuggle);
            assertNotNull(log.awaitLine(l -> l.contains("\"POST /gzipped HTTP/1.1\" 400 "), 2_000), () -> log.lines().toString());
            assertNotNull(log.awaitLine(l -> l.contains("\"GET /many HTTP/1.1\" 431 "), 2_000), () -> log.lines().toString());
            assertNotNull(log.awaitLine(l -> l.contains("\"GET /big HTTP/1.1\" 431 "), 2_000), () -> log.lines().toString());
            assertNotNull(log.awaitLine(l -> l.contains("\"- - -\" 414 "), 2_000), () -> log.lines().toString());
            assertEquals(0, backend.received().size());
        }
    }

    /**
     * An HTTP/2 request whose DATA frames contradict its content-length is a malformed request (RFC 9113 §8.1.1): the
     * stream is reset with PROTOCOL_ERROR. That is the client's error, logged and counted as 400 as nginx does, not as
     * a client that went away (499).
     */
    @Test
    void anHttp2StreamResetForTheClientsProtocolErrorIsA400() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (TestBackend backend = TestBackend.builder().respond(exchange -> {
                    exchange.awaitBody(10);
                    exchange.respond(200, "text/plain", "ok");
                }).start();
             RunningProxy proxy = RunningProxy.start("""
                     server:
                       listen: "127.0.0.1:0"
                       h2c: true
                     upstreams:
                       llm:
                         endpoints: ["%s"]
                     routes:
                       - path_prefix: /
                         upstream: llm
                     """.formatted(backend.url()), new Streamgate.Options(registry, NanoClock.SYSTEM));
             AccessLogCapture log = AccessLogCapture.capture();
             RawH2Client client = RawH2Client.connect(proxy.port())) {
            Http2Headers headers = RawH2Client.headers("POST", "/v1/chat", "api.test");
            headers.add("content-length", "5").add("x-request-id", "h2-lie");
            RawH2Client.Outcome outcome = client.exchange(headers, "hello world");
            assertFalse(outcome.answered(), outcome::toString);

            String line = log.awaitLine(l -> l.contains("rid=h2-lie "), 5_000);
            assertNotNull(line, () -> log.lines().toString());
            assertTrue(line.contains("\"POST /v1/chat HTTP/2.0\" 400 ") && line.contains(" note=bad_request_body"), line);
            Poll.until(() -> requests(registry, "400") == 1, 5_000, () -> "streamgate.requests{status=400}");
            assertEquals(0.0, requests(registry, "499"), "streamgate.requests{status=499}");
        }
    }

    private static void refuse(RunningProxy proxy, String request, int status) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            assertEquals(status, client.send(request).readResponse().status(), request);
        }
    }

    private static double requests(SimpleMeterRegistry registry, String status) {
        var counter = registry.find("streamgate.requests").tag("status", status).counter();
        return counter == null ? 0 : counter.count();
    }

    /** A flat JSON object's fields (numbers as Long or Double, null as null). */
    private static Map<String, Object> parse(String line) throws IOException {
        Map<String, Object> out = new HashMap<>();
        try (JsonParser p = JSON.createParser(line)) {
            assertEquals(JsonToken.START_OBJECT, p.nextToken(), line);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                out.put(name, switch (t) {
                    case VALUE_NUMBER_INT -> p.getLongValue();
                    case VALUE_NUMBER_FLOAT -> p.getDoubleValue();
                    case VALUE_STRING -> p.getText();
                    case VALUE_TRUE, VALUE_FALSE -> p.getBooleanValue();
                    case VALUE_NULL -> null;
                    default -> {
                        p.skipChildren();
                        yield "<structure>";
                    }
                });
            }
        }
        return out;
    }
}
