package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.HttpHeaders;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Which headers cross the proxy, in both directions, and which the proxy sets itself. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HeaderForwardingTest {
    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            ex.awaitBody(10);
            if (ex.uri().startsWith("/hop-response")) {
                ex.respond(200, "text/plain", "ok",
                        "Connection", "X-Resp-Hop",
                        "X-Resp-Hop", "1",
                        "Keep-Alive", "timeout=5",
                        "Upgrade", "h2c",
                        "Proxy-Connection", "keep-alive",
                        "X-Resp-End-To-End", "kept");
            } else {
                ex.respond(200, "text/plain", "ok");
            }
        }).start();
        proxy = RunningProxy.forwardingTo(backend);
    }

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    private RawResponse get(String target, String... headers) throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target, headers).readResponse();
        }
    }

    @Test
    void hopByHopRequestHeadersAreNotForwarded() throws Exception {
        RawResponse response = get("/hop-request",
                "Connection: keep-alive, X-Hop-Custom",
                "X-Hop-Custom: secret",
                "Keep-Alive: timeout=5",
                "TE: trailers",
                "Upgrade: websocket",
                "Proxy-Authorization: Basic dXNlcjpwYXNz",
                "Proxy-Connection: keep-alive",
                "Trailer: X-Checksum",
                "Authorization: Bearer sk-test",
                "X-End-To-End: kept");
        assertEquals(200, response.status(), response::toString);
        HttpHeaders seen = backend.takeExchange().headers();
        for (String hop : List.of("X-Hop-Custom", "Keep-Alive", "TE", "Upgrade", "Proxy-Authorization",
                "Proxy-Connection", "Trailer")) {
            assertNull(seen.get(hop), () -> hop + " was forwarded to the backend: " + seen);
        }
        String connection = seen.get("Connection");
        assertTrue(connection == null || !connection.toLowerCase().contains("x-hop-custom"),
                "the client's Connection header was forwarded: " + connection);
        assertEquals("Bearer sk-test", seen.get("Authorization"), "end-to-end headers must be forwarded");
        assertEquals("kept", seen.get("X-End-To-End"), "end-to-end headers must be forwarded");
    }

    @Test
    void hopByHopResponseHeadersAreNotForwarded() throws Exception {
        RawResponse response = get("/hop-response");
        assertEquals(200, response.status(), response::toString);
        Map<String, List<String>> headers = response.head().headers();
        for (String hop : List.of("x-resp-hop", "keep-alive", "upgrade", "proxy-connection")) {
            assertFalse(headers.containsKey(hop), () -> hop + " reached the client: " + headers);
        }
        String connection = response.header("connection");
        assertTrue(connection == null || !connection.toLowerCase().contains("x-resp-hop"),
                "the backend's Connection header reached the client: " + connection);
        assertEquals("kept", response.header("x-resp-end-to-end"));
    }

    @Test
    void clientSuppliedForwardingHeadersAreReplacedByThePeerAddress() throws Exception {
        RawResponse response = get("/xff", "X-Forwarded-For: 6.6.6.6", "Forwarded: for=6.6.6.6");
        assertEquals(200, response.status(), response::toString);
        HttpHeaders seen = backend.takeExchange().headers();
        assertEquals(List.of("127.0.0.1"), seen.getAll("X-Forwarded-For"), () -> "backend saw " + seen);
        seen.forEach(header -> assertFalse(header.getValue().contains("6.6.6.6"),
                () -> "a spoofed client address reached the backend in " + header));
    }

    @Test
    void requestIdIsPropagated() throws Exception {
        RawResponse response = get("/id", "X-Request-Id: client-chosen-id-42");
        assertEquals(200, response.status(), response::toString);
        assertEquals("client-chosen-id-42", backend.takeExchange().headers().get("X-Request-Id"));
        assertEquals("client-chosen-id-42", response.header("x-request-id"));
    }

    @Test
    void requestIdIsGeneratedWhenAbsent() throws Exception {
        RawResponse first = get("/id");
        BackendExchange firstSeen = backend.takeExchange();
        RawResponse second = get("/id");
        BackendExchange secondSeen = backend.takeExchange();

        String id = first.header("x-request-id");
        assertNotNull(id, "every response carries an X-Request-Id");
        assertTrue(id.matches("[0-9a-f]{32}"), () -> "128 random bits as 32 lower-case hex digits: " + id);
        assertEquals(id, firstSeen.headers().get("X-Request-Id"), "the backend must see the id the client gets");
        assertEquals(second.header("x-request-id"), secondSeen.headers().get("X-Request-Id"));
        assertNotEquals(id, second.header("x-request-id"), "generated ids must differ");
    }
}
