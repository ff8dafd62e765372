package io.streamgate.http2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.Closer;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
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

/**
 * Streamgate.close(drain) over HTTP/2: a stream in flight gets the drain the caller gave, not the configured
 * server.drain_timeout, and one outlasting it is logged as cut by the drain, as HTTP/1.1 exchanges are (see
 * GracefulShutdownTest).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class Http2GracefulShutdownTest {
    private final Closer closer = new Closer();
    private final ExecutorService closerThread = Executors.newSingleThreadExecutor();
    private final CountDownLatch proceed = new CountDownLatch(1);

    @AfterEach
    void closeAll() throws Exception {
        proceed.countDown();
        closer.close();
        closerThread.shutdownNow();
    }

    private RunningProxy proxy(TestBackend backend, String drainTimeout) throws Exception {
        return closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  h2c: true
                  drain_timeout: %s
                upstreams:
                  llm:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: llm
                """.formatted(drainTimeout, backend.url())));
    }

    /** An event, then more events every 100 ms until the proxy closes the connection (about 10 s at most). */
    private TestBackend ticking() {
        return closer.add(TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/event-stream");
            ex.write("data: first\n\n");
            for (int i = 0; i < 100; i++) {
                try {
                    ex.connection().closed().get(100, TimeUnit.MILLISECONDS);
                    return;
                } catch (TimeoutException stillOpen) {
                    ex.write("data: tick " + i + "\n\n");
                }
            }
            ex.end();
        }).start());
    }

    private CompletableFuture<Void> closeAsync(RunningProxy proxy, Duration drain) {
        return CompletableFuture.runAsync(() -> proxy.gateway().close(drain), closerThread);
    }

    @Test
    void aStreamGetsTheDrainGivenToCloseNotTheConfiguredOne() throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/event-stream");
            ex.write("data: 0\n\n");
            if (!proceed.await(15, TimeUnit.SECONDS)) {
                throw new AssertionError("the test never let the stream continue");
            }
            ex.write("data: 1\n\n");
            ex.end();
        }).start());
        RunningProxy proxy = proxy(backend, "300ms");
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));

        try (AccessLogCapture log = AccessLogCapture.capture()) {
            H2Probe.Stream s = client.open(H2Probe.headers("GET", "/v1/stream", "x-request-id", "h2-drained"), true);
            backend.takeExchange();
            CompletableFuture<Void> closing = closeAsync(proxy, Duration.ofSeconds(5));
            TimeUnit.MILLISECONDS.sleep(1_000); // well past the configured drain_timeout, within the one given
            assertFalse(s.outcome.isDone(), () -> "the stream ended before the drain given to close: " + s.outcome.join());
            assertFalse(closing.isDone(), "close returned while a stream was still in flight");

            proceed.countDown();
            H2Probe.Outcome outcome = s.outcome.get(5, TimeUnit.SECONDS);
            assertEquals(200, outcome.status(), outcome::toString);
            assertEquals("data: 0\n\ndata: 1\n\n", outcome.body(), "the stream must finish whole");
            closing.get(5, TimeUnit.SECONDS);
            assertTrue(client.goAwaySeen, "a draining HTTP/2 connection announces it with GOAWAY");

            String line = log.awaitLine(l -> l.contains("rid=h2-drained"), 2_000);
            assertNotNull(line, () -> "no access log line: " + log.lines());
            assertTrue(line.contains("\" 200 ") && !line.contains(" note="), () -> "a stream that finished: " + line);
        }
    }

    @Test
    void aStreamOutlastingALongerDrainThanConfiguredIsCutAtItsEnd() throws Exception {
        RunningProxy proxy = proxy(ticking(), "300ms");
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));

        try (AccessLogCapture log = AccessLogCapture.capture()) {
            H2Probe.Stream s = client.open(H2Probe.headers("GET", "/v1/stream", "x-request-id", "h2-cut-late"), true);
            awaitFirstEvent(s);
            long start = System.nanoTime();
            CompletableFuture<Void> closing = closeAsync(proxy, Duration.ofMillis(1_500));
            H2Probe.Outcome outcome = s.outcome.get(5, TimeUnit.SECONDS);
            long cutAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(cutAfterMs >= 1_400, "the stream was cut after " + cutAfterMs + " ms of a 1500 ms drain");
            assertTrue(outcome.body().contains("data: tick "), outcome::toString);
            closing.get(5, TimeUnit.SECONDS);

            assertCutByTheDrain(log, "h2-cut-late");
        }
    }

    @Test
    void aStreamOutlastingAShorterDrainThanConfiguredIsCutAtItsEnd() throws Exception {
        RunningProxy proxy = proxy(ticking(), "30s");
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));

        try (AccessLogCapture log = AccessLogCapture.capture()) {
            H2Probe.Stream s = client.open(H2Probe.headers("GET", "/v1/stream", "x-request-id", "h2-cut-early"), true);
            awaitFirstEvent(s);
            long start = System.nanoTime();
            closeAsync(proxy, Duration.ofMillis(500)).get(5, TimeUnit.SECONDS);
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(elapsedMs >= 400 && elapsedMs < 2_500, "close took " + elapsedMs + " ms with a 500 ms drain");
            s.outcome.get(2, TimeUnit.SECONDS);

            assertCutByTheDrain(log, "h2-cut-early");
        }
    }

    private static void awaitFirstEvent(H2Probe.Stream s) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (s.body.size() == 0) {
            assertTrue(System.nanoTime() < deadline, "the first event never arrived");
            TimeUnit.MILLISECONDS.sleep(10);
        }
    }

    /** The gateway cut it, not the client: the status the client got, flagged, never 499 (client closed). */
    private static void assertCutByTheDrain(AccessLogCapture log, String requestId) throws InterruptedException {
        String line = log.awaitLine(l -> l.contains("rid=" + requestId), 2_000);
        assertNotNull(line, () -> "no access log line: " + log.lines());
        assertTrue(line.contains("\" 200 "), () -> "the status sent to the client should be logged: " + line);
        assertTrue(line.contains(" note=drain_timeout"), () -> "the cut should be flagged as the drain's: " + line);
    }
}
