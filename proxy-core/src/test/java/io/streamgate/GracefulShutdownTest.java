package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.BodyStream;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Streamgate.close(drain): refuse new connections, let streams in flight finish within the drain time, cut the rest. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class GracefulShutdownTest {
    private static final int EVENTS = 5;

    private final ExecutorService closer = Executors.newSingleThreadExecutor();
    private final CountDownLatch proceed = new CountDownLatch(1);
    private TestBackend backend;
    private RunningProxy proxy;

    @AfterEach
    void stop() throws Exception {
        proceed.countDown();
        if (proxy != null) {
            proxy.close(); // already closed by the test: returns at once
        }
        if (backend != null) {
            backend.close();
        }
        closer.shutdownNow();
    }

    @Test
    void aStreamInFlightFinishesWhileNewConnectionsAreRefused() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/event-stream");
            ex.write("data: 0\n\n");
            if (!proceed.await(15, TimeUnit.SECONDS)) {
                throw new AssertionError("the test never let the stream continue");
            }
            // The rest takes a while, so that a close not waiting for it would cut it.
            for (int k = 1; k < EVENTS; k++) {
                ex.write("data: " + k + "\n\n");
                if (k < EVENTS - 1 && pause(ex, 150)) {
                    return;
                }
            }
            ex.end();
        }).start();
        proxy = RunningProxy.forwardingTo(backend);

        try (RawHttpClient client = proxy.connect()) {
            client.get("/v1/stream");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            BodyStream body = client.openBody(head);
            assertEquals("data: 0", body.readEvent());

            CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> proxy.gateway().close(Duration.ofSeconds(5)), closer);
            awaitConnectionsRefused(proxy.port());
            assertFalse(closing.isDone(), "close returned while a stream was still in flight");

            proceed.countDown();
            for (int k = 1; k < EVENTS; k++) {
                assertEquals("data: " + k, body.readEvent(), "event " + k + " of the draining stream");
                if (k == 1) {
                    assertFalse(closing.isDone(), "close returned while the backend was still streaming");
                }
            }
            assertNull(body.readEvent());
            assertTrue(body.isComplete(), "a stream that finished within the drain time must end with its terminating chunk");

            closing.get(5, TimeUnit.SECONDS);
            assertTrue(proxy.gateway().closeFuture().isDone());
            assertTrue(client.awaitServerClose(2_000), "the client connection must be closed once the gateway stopped");
        }
    }

    @Test
    void aStreamOutlastingTheDrainTimeoutIsCut() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/event-stream");
            ex.write("data: first\n\n");
            for (int i = 0; i < 100; i++) { // about 10 s of ticks, unless the proxy closes the connection
                try {
                    ex.connection().closed().get(100, TimeUnit.MILLISECONDS);
                    return;
                } catch (TimeoutException stillOpen) {
                    ex.write("data: tick " + i + "\n\n");
                }
            }
            ex.end();
        }).start();
        proxy = RunningProxy.forwardingTo(backend);

        try (AccessLogCapture log = AccessLogCapture.capture(); RawHttpClient client = proxy.connect()) {
            client.get("/v1/stream", "X-Request-Id: cut-by-drain");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            BodyStream body = client.openBody(head);
            assertEquals("data: first", body.readEvent());
            BackendConnection upstream = backend.takeExchange().connection();

            long start = System.nanoTime();
            CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> proxy.gateway().close(Duration.ofMillis(500)), closer);
            while (body.readEvent() != null) {
                // ticks keep coming until the drain timeout cuts the stream
            }
            assertFalse(body.isComplete(), "a stream cut by the drain timeout must not end with the terminating chunk");
            assertTrue(body.connectionEnded());

            closing.get(5, TimeUnit.SECONDS);
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(elapsedMs >= 400, "close returned after " + elapsedMs + " ms, before the 500ms drain timeout");
            assertTrue(elapsedMs < 2_500, "close took " + elapsedMs + " ms with a 500ms drain timeout");
            upstream.closed().get(2, TimeUnit.SECONDS);

            // The gateway cut it, not the client: the status the client got, flagged, never 499 (client closed).
            String line = log.awaitLine(l -> l.contains("rid=cut-by-drain"), 2_000);
            assertNotNull(line, () -> "no access log line: " + log.lines());
            assertTrue(line.contains("HTTP/1.1\" 200 "), () -> "the status sent to the client should be logged: " + line);
            assertTrue(line.contains(" note=drain_timeout"), () -> "the cut should be flagged as the drain's: " + line);
        }
    }

    @Test
    void aRequestStillUnansweredAtTheDrainTimeoutIsLoggedAsTheGatewaysFailure() throws Exception {
        CountDownLatch received = new CountDownLatch(1);
        backend = TestBackend.builder().respond(ex -> {
            received.countDown();
            ex.connection().closed().get(10, TimeUnit.SECONDS); // a long wait in vLLM's queue: no first byte
        }).start();
        proxy = RunningProxy.forwardingTo(backend);

        try (AccessLogCapture log = AccessLogCapture.capture(); RawHttpClient client = proxy.connect()) {
            client.get("/v1/queued", "X-Request-Id: unanswered-at-drain");
            assertTrue(received.await(5, TimeUnit.SECONDS), "the backend never got the request");
            proxy.gateway().close(Duration.ofMillis(300));
            assertTrue(client.awaitServerClose(2_000), "the drain timeout should close the client's connection");

            String line = log.awaitLine(l -> l.contains("rid=unanswered-at-drain"), 2_000);
            assertNotNull(line, () -> "no access log line: " + log.lines());
            assertTrue(line.contains("HTTP/1.1\" 503 "), () -> "the gateway, not the client, failed it: " + line);
            assertTrue(line.contains(" note=drain_timeout"), () -> "the cut should be flagged as the drain's: " + line);
        }
    }

    /** Waits {@code millis} unless the connection closes first; true if it closed. */
    private static boolean pause(BackendExchange ex, long millis) throws Exception {
        try {
            ex.connection().closed().get(millis, TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException stillOpen) {
            return false;
        }
    }

    /** Polls until a connect is refused: the listener is closed (close() gives no other outside signal). */
    private static void awaitConnectionsRefused(int port) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 1_000);
            } catch (ConnectException refused) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the gateway still accepts connections 5 s after close() began");
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
    }
}
