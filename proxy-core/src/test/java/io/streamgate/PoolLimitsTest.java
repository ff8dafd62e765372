package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * pool.max_connections, max_pending and acquire_timeout, with one event loop so that every client shares one pool.
 * The backend holds each response until the test releases it, so the single connection stays leased on demand.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PoolLimitsTest {
    private final CountDownLatch release = new CountDownLatch(1);
    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void startBackend() {
        backend = TestBackend.builder().respond(ex -> {
            ex.awaitBody(10);
            if (!release.await(20, TimeUnit.SECONDS)) {
                throw new AssertionError("the test never released the held response");
            }
            ex.respond(200, "text/plain", "done " + ex.uri());
        }).start();
    }

    @AfterEach
    void stop() throws Exception {
        release.countDown();
        if (proxy != null) {
            proxy.close();
        }
        backend.close();
    }

    /**
     * The acquire timeout here is far longer than the test, so the waiter cannot time out while the third request
     * is being refused.
     */
    @Test
    void aSecondRequestWaitsForTheConnectionAndAThirdIsRefusedAtOnce() throws Exception {
        proxy = RunningProxy.start(yaml("5s"));
        try (RawHttpClient first = proxy.connect(); RawHttpClient second = proxy.connect(); RawHttpClient third = proxy.connect()) {
            first.get("/first");
            assertEquals("/first", backend.takeExchange().uri());

            second.get("/second");
            awaitActiveRequests(2); // the second exchange started, found the pool full and queued

            long start = System.nanoTime();
            RawResponse refused = third.get("/third").readResponse();
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertError(refused, 503, "upstream_pool_exhausted");
            assertTrue(elapsedMs < 2_000, "the third request must be refused at once, not after waiting: " + elapsedMs + " ms");

            release.countDown();
            RawResponse firstResponse = first.readResponse();
            assertEquals(200, firstResponse.status(), firstResponse::toString);
            assertEquals("done /first", firstResponse.bodyText());
            RawResponse secondResponse = second.readResponse();
            assertEquals(200, secondResponse.status(), secondResponse::toString);
            assertEquals("done /second", secondResponse.bodyText());
        }
        assertEquals(1, backend.acceptedConnections(), "max_connections: 1 must never open a second connection");
        assertEquals(2, backend.received().size(), () -> "the refused request must not reach the backend: " + backend.received());
    }

    @Test
    void aWaiterThatGetsNoConnectionWithinAcquireTimeoutGets503() throws Exception {
        proxy = RunningProxy.start(yaml("500ms"));
        try (RawHttpClient first = proxy.connect(); RawHttpClient second = proxy.connect()) {
            first.get("/first");
            assertEquals("/first", backend.takeExchange().uri());

            long start = System.nanoTime();
            RawResponse timedOut = second.get("/second").readResponse();
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertError(timedOut, 503, "upstream_pool_exhausted");
            assertTrue(elapsedMs >= 400, "503 after " + elapsedMs + " ms: the request did not wait for acquire_timeout");
            assertTrue(elapsedMs < 3_000, "503 after " + elapsedMs + " ms: acquire_timeout is 500ms");

            release.countDown();
            RawResponse firstResponse = first.readResponse();
            assertEquals(200, firstResponse.status(), firstResponse::toString);
            assertEquals("done /first", firstResponse.bodyText());
        }
        assertEquals(1, backend.received().size(), () -> "the timed-out request must not reach the backend: " + backend.received());
    }

    private void awaitActiveRequests(int expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (proxy.gateway().activeRequests() < expected) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("expected " + expected + " requests in flight, the gateway has "
                        + proxy.gateway().activeRequests());
            }
            TimeUnit.MILLISECONDS.sleep(5); // nothing to wait on from outside: poll a state the gateway exposes
        }
    }

    private String yaml(String acquireTimeout) {
        return """
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 1
                upstreams:
                  backend:
                    endpoints: ["%s"]
                    pool:
                      max_connections: 1
                      max_pending: 1
                      acquire_timeout: %s
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(backend.url(), acquireTimeout);
    }
}
