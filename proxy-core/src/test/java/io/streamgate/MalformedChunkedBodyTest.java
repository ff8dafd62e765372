package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.BodyStream;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A chunked request body that turns malformed half-way (an invalid chunk-size line) after its head and first chunk
 * went to the backend: the backend's half-received request must be dropped with its connection, and the client gets
 * 400 if no response started, else a cut response.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class MalformedChunkedBodyTest {
    private static final String HEAD_AND_FIRST_CHUNK = "POST /v1/upload HTTP/1.1\r\nHost: test.local\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    private static final String BAD_CHUNK = "zz\r\nbroken\r\n";

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
    void beforeTheResponseStartedTheClientGets400AndBothConnectionsClose() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            ex.awaitBody(10); // never completes: the body is broken
            ex.respond(200, "text/plain", "unexpected");
        }).start();
        proxy = RunningProxy.forwardingTo(backend);
        try (RawHttpClient client = proxy.connect()) {
            client.send(HEAD_AND_FIRST_CHUNK);
            BackendConnection upstream = backend.takeExchange().connection();
            client.send(BAD_CHUNK);

            assertError(client.readResponse(), 400, "bad_request");
            assertTrue(client.awaitServerClose(2_000), "the client connection must close after a malformed body");
            assertClosedWithin2s(upstream);
        }
    }

    @Test
    void afterTheResponseStartedTheResponseIsCutAndBothConnectionsClose() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/plain");
            ex.write("partial");
            ex.connection().closed().get(10, TimeUnit.SECONDS);
        }).start();
        proxy = RunningProxy.forwardingTo(backend);
        try (RawHttpClient client = proxy.connect()) {
            client.send(HEAD_AND_FIRST_CHUNK);
            BackendConnection upstream = backend.takeExchange().connection();
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            BodyStream body = client.openBody(head);
            assertArrayEquals("partial".getBytes(StandardCharsets.US_ASCII), body.readNBytes(7));

            long start = System.nanoTime();
            client.send(BAD_CHUNK);
            body.readAllBytes();
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(elapsedMs < 2_000, "the response was cut " + elapsedMs + " ms after the malformed chunk (the backend"
                    + " holds it 10 s): the proxy did not react to the malformed body");
            assertFalse(body.isComplete(), "the response must be cut, not terminated as if it were whole");
            assertTrue(body.connectionEnded());
            assertClosedWithin2s(upstream);
        }
    }

    private static void assertClosedWithin2s(BackendConnection upstream) throws Exception {
        try {
            upstream.closed().get(2, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("the backend connection carrying a half-sent request stayed open: " + upstream);
        }
    }
}
