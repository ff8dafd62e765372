package io.streamgate.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.handler.codec.http2.Http2Headers;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.RawH2Client;
import io.streamgate.testing.RawH2Client.Outcome;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Malformed HTTP/2 requests (RFC 9113 §8.2, §8.3) must never be downgraded into HTTP/1.1 requests for the backend:
 * CR/LF in a value would split the upstream request, connection-specific fields and a lying content-length would
 * reframe it. Sent with an unvalidating h2c client; each must end as RST_STREAM, GOAWAY or a 4xx, and the backend
 * must receive nothing (or, for the body-length lie, never a complete body).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class Http2HostileInputTest {
    private static final long QUIET_MS = 300;

    private TestBackend backend;
    private RunningProxy proxy;
    private RawH2Client client;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            var body = ex.awaitBody(10);
            ex.respond(200, "text/plain", ex.method() + " " + ex.uri() + " " + body.length() + " host=" + ex.headers().get("host"));
        }).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  h2c: true
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(backend.url()));
        client = RawH2Client.connect(proxy.port());
    }

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
        }
        proxy.close();
        backend.close();
    }

    private Http2Headers get(String path) {
        return RawH2Client.headers("GET", path, "api.test");
    }

    private void assertRefusedAndNotForwarded(Outcome outcome, String what) throws InterruptedException {
        assertTrue(outcome.serverActed(), what + ": the server neither answered nor reset the stream: " + outcome);
        assertFalse(outcome.answered() && outcome.status() < 400, what + " was answered " + outcome);
        TimeUnit.MILLISECONDS.sleep(QUIET_MS);
        assertEquals(List.of(), backend.received().stream().map(e -> e.method() + " " + e.uri() + " " + e.headers()).toList(),
                what + " reached the backend");
    }

    @Test
    void aWellFormedRequestPasses() throws Exception {
        Outcome outcome = client.exchange(get("/v1/models"), null);
        assertEquals(200, outcome.status(), outcome::toString);
        assertEquals("GET /v1/models 0 host=api.test", outcome.body());
    }

    @Test
    void crLfInAHeaderValueIsNotForwarded() throws Exception {
        Http2Headers headers = get("/v1/models");
        headers.add("x-injected", "a\r\nTransfer-Encoding: chunked");
        assertRefusedAndNotForwarded(client.exchange(headers, null), "a header value with CR LF");
    }

    @Test
    void nulInAHeaderValueIsNotForwarded() throws Exception {
        Http2Headers headers = get("/v1/models");
        headers.add("x-nul", "a\u0000b");
        assertRefusedAndNotForwarded(client.exchange(headers, null), "a header value with NUL");
    }

    @Test
    void crLfInThePathIsNotForwarded() throws Exception {
        assertRefusedAndNotForwarded(client.exchange(get("/v1/models HTTP/1.1\r\nHost: evil\r\n\r\nGET /smuggled"), null),
                "a :path with CR LF");
    }

    @Test
    void connectionSpecificFieldsAreMalformed() throws Exception {
        Http2Headers te = RawH2Client.headers("POST", "/v1/chat", "api.test");
        te.add("transfer-encoding", "chunked");
        assertRefusedAndNotForwarded(client.exchange(te, "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"), "transfer-encoding over h2");
        reconnectIfClosed();
        Http2Headers connection = get("/v1/models");
        connection.add("connection", "keep-alive");
        assertRefusedAndNotForwarded(client.exchange(connection, null), "connection over h2");
    }

    @Test
    void upperCaseFieldNamesAreMalformed() throws Exception {
        Http2Headers headers = get("/v1/models");
        headers.add("X-Upper", "1");
        assertRefusedAndNotForwarded(client.exchange(headers, null), "an upper-case field name");
    }

    @Test
    void aPathThatIsNotOriginFormIsRefused() throws Exception {
        assertRefusedAndNotForwarded(client.exchange(get("v1/models"), null), "a :path without leading slash");
    }

    @Test
    void aContentLengthContradictedByTheDataNeverYieldsACompleteBody() throws Exception {
        Http2Headers headers = RawH2Client.headers("POST", "/v1/chat", "api.test");
        headers.add("content-length", "5");
        Outcome outcome = client.exchange(headers, "hello world");
        assertFalse(outcome.answered() && outcome.status() < 400, "a lying content-length was answered " + outcome);
        TimeUnit.MILLISECONDS.sleep(QUIET_MS);
        for (BackendExchange exchange : backend.received()) {
            try {
                exchange.connection().closed().get(2, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                fail("the upstream connection carrying the contradicted body stayed open");
            }
            assertTrue(exchange.body().isCompletedExceptionally(), "the backend got a complete body: " + exchange.body().join());
        }
    }

    @Test
    void withoutAuthorityOrHostTheRequestIsRefused() throws Exception {
        Http2Headers headers = get("/v1/models");
        headers.remove(":authority");
        assertRefusedAndNotForwarded(client.exchange(headers, null), "a request without :authority and Host");
    }

    @Test
    void theAuthorityNotAContradictingHostIsWhatTheBackendSees() throws Exception {
        Http2Headers headers = get("/v1/models");
        headers.add("host", "evil.test");
        Outcome outcome = client.exchange(headers, null);
        if (outcome.answered() && outcome.status() == 200) {
            assertEquals("GET /v1/models 0 host=api.test", outcome.body(), "Host must not override :authority");
        } else {
            assertRefusedAndNotForwarded(outcome, "a Host contradicting :authority");
        }
    }

    @Test
    void connectOverH2IsRefused() throws Exception {
        Http2Headers headers = new io.netty.handler.codec.http2.DefaultHttp2Headers(false);
        headers.method("CONNECT").authority("10.0.0.1:22");
        Outcome outcome = client.exchange(headers, null);
        assertRefusedAndNotForwarded(outcome, "CONNECT over h2");
    }

    private void reconnectIfClosed() throws InterruptedException {
        if (!client.isOpen()) {
            client.close();
            client = RawH2Client.connect(proxy.port());
        }
    }
}
