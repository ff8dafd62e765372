package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.BodyStream;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Server-sent events through the proxy: flushed one by one, cut on idle timeout, and aborted with the client. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SseStreamingTest {
    private static final int EVENTS = 50;
    /** 499 as a field of an access log line, whatever its format (combined, key=value or JSON). */
    private static final Pattern STATUS_499 = Pattern.compile("(^|[\\s\":=])499([\\s,}]|$)");

    private TestBackend backend;
    private RunningProxy proxy;

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    /**
     * The backend sends event k+1 only once the client has received event k through the proxy. A proxy that
     * buffers or batches chunks (waiting for more data, or for the response to end) stalls this handshake.
     */
    @Test
    void eachEventReachesTheClientBeforeTheBackendSendsTheNext() throws Exception {
        BlockingQueue<Integer> received = new LinkedBlockingQueue<>();
        backend = TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/event-stream", "Cache-Control", "no-cache");
            for (int k = 0; k < EVENTS; k++) {
                ex.write("data: {\"n\":" + k + "}\n\n");
                Integer ack = received.poll(5, TimeUnit.SECONDS);
                if (ack == null || ack != k) {
                    throw new AssertionError("event " + k + " did not reach the client within 5s (ack: " + ack + ")");
                }
            }
            ex.write("data: [DONE]\n\n");
            ex.end();
        }).start();
        proxy = RunningProxy.forwardingTo(backend);

        try (RawHttpClient client = proxy.connect()) {
            client.post("/v1/chat/completions", "{\"stream\":true}", "Content-Type: application/json");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            assertTrue(head.header("content-type").startsWith("text/event-stream"), head.headers()::toString);
            BodyStream body = client.openBody(head);
            for (int k = 0; k < EVENTS; k++) {
                String event = body.readEvent();
                assertEquals("data: {\"n\":" + k + "}", event, "event " + k + "; backend failures: " + backend.failures());
                received.add(k);
            }
            assertEquals("data: [DONE]", body.readEvent());
            assertNull(body.readEvent());
            assertTrue(body.isComplete(), "the stream must end with its terminating chunk");
        }
        assertTrue(backend.failures().isEmpty(), () -> "backend: " + backend.failures());
    }

    @Test
    void aGapShorterThanTheIdleTimeoutPasses() throws Exception {
        startGapBackendAndProxy();
        try (RawHttpClient client = proxy.connect()) {
            client.get("/patient/stream");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            BodyStream body = client.openBody(head);
            assertEquals("data: before-gap", body.readEvent());
            assertEquals("data: after-gap", body.readEvent());
            assertNull(body.readEvent());
            assertTrue(body.isComplete(), "the stream must end with its terminating chunk");
        }
    }

    @Test
    void aGapLongerThanTheIdleTimeoutCutsTheStream() throws Exception {
        startGapBackendAndProxy();
        try (RawHttpClient client = proxy.connect()) {
            client.get("/impatient/stream");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            BodyStream body = client.openBody(head);
            assertEquals("data: before-gap", body.readEvent());
            BackendConnection upstream = backend.takeExchange().connection();

            String next = body.readEvent();
            assertNull(next, "the stream must be cut after 1s of silence, but the client got: " + next);
            assertFalse(body.isComplete(), "a cut stream must not end with the terminating chunk");
            assertTrue(body.connectionEnded());
            // The cut must reach the backend too, so it stops generating.
            upstream.closed().get(2, TimeUnit.SECONDS);
        }
    }

    /** Sends one event, then stays silent for 3 s (or until the proxy closes the connection), then one more. */
    private void startGapBackendAndProxy() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/event-stream");
            ex.write("data: before-gap\n\n");
            try {
                ex.connection().closed().get(3, TimeUnit.SECONDS);
                return; // the proxy gave up on the stream
            } catch (TimeoutException gapOver) {
                ex.write("data: after-gap\n\n");
                ex.end();
            }
        }).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /patient
                    upstream: backend
                    timeouts:
                      idle: 6s
                  - path_prefix: /impatient
                    upstream: backend
                    timeouts:
                      idle: 1s
                """.formatted(backend.url()));
    }

    /**
     * When the client goes away mid-stream, the proxy closes the upstream connection at once (so the backend
     * stops generating) and never hands that connection to another request.
     */
    @Test
    void clientLeavingMidStreamClosesTheUpstreamConnection() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            if (!ex.uri().startsWith("/stream")) {
                ex.awaitBody(10);
                ex.respond(200, "text/plain", "plain " + ex.uri());
                return;
            }
            ex.startChunked(200, "text/event-stream");
            ex.write("data: first\n\n");
            // Keep generating, as a model would, until the connection is gone (bounded).
            for (int i = 0; i < 200; i++) {
                try {
                    ex.connection().closed().get(100, TimeUnit.MILLISECONDS);
                    return;
                } catch (TimeoutException stillOpen) {
                    ex.write("data: tick " + i + "\n\n");
                }
            }
        }).start();
        proxy = RunningProxy.forwardingTo(backend);

        try (RawHttpClient warm = proxy.connect()) {
            assertEquals(200, warm.get("/warm-up").readResponse().status());
        }

        BackendConnection streamConnection;
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            try (RawHttpClient client = proxy.connect()) {
                client.get("/stream");
                ResponseHead head = client.readHead();
                assertEquals(200, head.status());
                assertEquals("data: first", client.openBody(head).readEvent());
                backend.takeExchange(); // the warm-up
                streamConnection = backend.takeExchange().connection();
            }

            try {
                streamConnection.closed().get(2, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("the proxy kept the upstream connection of an abandoned stream open: " + streamConnection);
            }
            String line = accessLog.awaitLine(l -> l.contains("/stream"), 2_000);
            assertNotNull(line, () -> "no access log line for the abandoned stream; lines: " + accessLog.lines());
            assertTrue(STATUS_499.matcher(line).find(), "the access log must record status 499 for a client that left: " + line);
        }

        for (int i = 0; i < 3; i++) {
            try (RawHttpClient client = proxy.connect()) {
                RawResponse response = client.get("/after-" + i).readResponse();
                assertEquals(200, response.status(), response::toString);
                assertEquals("plain /after-" + i, response.bodyText());
                BackendExchange exchange = backend.takeExchange();
                assertNotEquals(streamConnection, exchange.connection());
            }
        }
        assertEquals(1, streamConnection.requests(), "the abandoned stream's connection carried another request");
    }
}
