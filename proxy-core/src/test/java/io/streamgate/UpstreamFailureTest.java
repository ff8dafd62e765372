package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BodyStream;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RefusingPort;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What the client sees when the backend is down, silent, resets, or dies in the middle of a stream. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class UpstreamFailureTest {
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

    @Test
    void backendNotListeningGives502() throws Exception {
        try (RefusingPort refusing = RefusingPort.open()) {
            backendNotListeningGives502(refusing.port());
        }
    }

    private void backendNotListeningGives502(int closedPort) throws Exception {
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  down:
                    endpoints: ["http://127.0.0.1:%d"]
                routes:
                  - path_prefix: /
                    upstream: down
                """.formatted(closedPort));
        try (RawHttpClient client = proxy.connect()) {
            RawResponse response = client.post("/v1/completions", "{}", "X-Request-Id: req-down-1").readResponse();
            String id = assertError(response, 502, "upstream_unavailable");
            assertEquals("req-down-1", id, "a client-supplied X-Request-Id must be kept on error answers");
        }
    }

    @Test
    void backendResettingBeforeHeadersGives502() throws Exception {
        backend = TestBackend.builder().respond(Responders.reset()).start();
        proxy = RunningProxy.forwardingTo(backend);
        try (RawHttpClient client = proxy.connect()) {
            assertError(client.get("/v1/models").readResponse(), 502, "upstream_unavailable");
        }
    }

    @Test
    void silentBackendGives504AfterFirstByteTimeout() throws Exception {
        backend = TestBackend.builder().respond(Responders.silent()).start();
        proxy = RunningProxy.forwardingTo(backend, "timeouts:", "  first_byte: 1s");
        try (RawHttpClient client = proxy.connect()) {
            long start = System.nanoTime();
            RawResponse response = client.post("/v1/chat/completions", "{}").readResponse();
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertError(response, 504, "upstream_timeout");
            assertTrue(elapsedMs >= 900, "504 came after " + elapsedMs + " ms, before the 1s first_byte timeout");
        }
        // A connection with an unanswered request can never be reused: the proxy must drop it.
        backend.takeExchange().connection().closed().get(2, TimeUnit.SECONDS);
    }

    /** The client must be able to tell a cut stream from a finished one: no terminating chunk, connection closed. */
    @Test
    void backendDyingMidStreamEndsTheClientStreamWithoutTerminatingChunk() throws Exception {
        BlockingQueue<String> clientGot = new LinkedBlockingQueue<>();
        backend = TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/event-stream");
            ex.write("data: partial\n\n");
            if (clientGot.poll(5, TimeUnit.SECONDS) != null) {
                ex.die();
            }
        }).start();
        proxy = RunningProxy.forwardingTo(backend);
        try (RawHttpClient client = proxy.connect()) {
            client.get("/v1/stream");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            assertTrue(head.isChunked(), "an SSE response of unknown length must be chunked: " + head.headers());
            BodyStream body = client.openBody(head);
            assertEquals("data: partial", body.readEvent());
            clientGot.add("partial");

            assertNull(body.readEvent());
            assertFalse(body.isComplete(), "the terminating 0-chunk must not be sent for a stream the backend cut");
            assertTrue(body.connectionEnded(), "the client connection must be closed");
        }
    }
}
