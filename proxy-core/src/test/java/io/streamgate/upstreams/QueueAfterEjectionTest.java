package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.Closer;
import io.streamgate.testing.EndpointStates;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A request waiting in the upstream queue gets an endpoint that comes back by itself (its ejection ends, its circuit
 * breaker half-opens, its check passes), not only one that a finishing request frees: the queue used to be looked at
 * only when a request started or finished, so with the other endpoint busy with a long generation the waiter sat
 * beside an idle, available replica until the queue timeout gave it a 503.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class QueueAfterEjectionTest {
    private final Closer closer = new Closer();
    private final HeldResponder heldB = new HeldResponder(Responders.named("b"));

    @AfterEach
    void closeAll() throws Exception {
        heldB.releaseAll();
        closer.close();
    }

    @Test
    void aWaiterGetsTheEndpointWhoseEjectionEnded() throws Exception {
        TestBackend a = closer.add(TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(30);
            if (exchange.uri().startsWith("/fail/")) {
                exchange.respond(500, "text/plain", "a failed");
            } else {
                exchange.respond(200, "text/plain", "a " + exchange.method() + " " + exchange.uri());
            }
        }).start());
        TestBackend b = closer.add(TestBackend.builder().respond(heldB).start());
        RunningProxy proxy = closer.add(RunningProxy.withUpstream("pool", """
                endpoints: ["%s", "%s"]
                max_in_flight: 1
                queue: {size: 4, timeout: 8s, fairness: fifo}
                outlier_detection: {consecutive_failures: 1, base_ejection: 1s, max_ejection: 1s}
                """.formatted(a.url(), b.url())));

        // One 500 from a ejects it for a second (b is there to take its requests).
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 4 && !"ejected".equals(EndpointStates.state(proxy.gateway(), a.port())); i++) {
                heldB.release("/fail/" + i);
                client.get("/fail/" + i).readResponse();
            }
        }
        assertEquals("ejected", EndpointStates.state(proxy.gateway(), a.port()), "a 500 from a should eject it");

        // b takes a long request: at max_in_flight, and a is out, so the next request waits in the queue.
        RawHttpClient longClient = closer.add(proxy.connect());
        longClient.get("/long");
        Poll.until(() -> b.received().stream().anyMatch(e -> e.uri().equals("/long")), 5_000, () -> "/long never reached b");

        long start = System.nanoTime();
        RawHttpClient waiter = closer.add(proxy.connect());
        RawResponse response = waiter.get("/queued").readResponse();
        long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals(200, response.status(), () -> "the waiter should get a once its 1 s ejection ended, after "
                + waitedMillis + " ms it got " + response);
        assertEquals("a GET /queued", response.bodyText());
        assertTrue(waitedMillis < 4_000, () -> "served after " + waitedMillis + " ms: a was back after 1 s");
    }

    /**
     * A request queued before a reload that changed the upstream waits on the old snapshot's object, while the active
     * check runs for the new one: an endpoint the check puts back lets that waiter in too. (Before, it was let in by
     * the old object's own look at the queue, one check interval times healthy_threshold later: 10 s with the
     * defaults, 100 ms here, so this test does not tell the two apart; it guards the waiter being served at all.)
     */
    @Test
    void aWaiterQueuedBeforeAReloadGetsTheEndpointTheCheckPutsBack() throws Exception {
        java.util.concurrent.atomic.AtomicInteger healthB = new java.util.concurrent.atomic.AtomicInteger(503);
        TestBackend a = closer.add(TestBackend.builder().respond(heldB).start());
        TestBackend b = closer.add(TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(30);
            if (exchange.uri().equals("/health")) {
                exchange.respond(healthB.get(), "text/plain", "health");
            } else {
                exchange.respond(200, "text/plain", "b " + exchange.uri());
            }
        }).start());
        String upstream = """
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  pool:
                    endpoints: ["%s", "%s"]
                    max_in_flight: 1
                    queue: {size: 4, timeout: %s, fairness: fifo}
                    health_check: {path: /health, interval: 100ms, timeout: 500ms, unhealthy_threshold: 1, healthy_threshold: 1}
                routes:
                  - path_prefix: /
                    upstream: pool
                """;
        RunningProxy proxy = closer.add(RunningProxy.start(upstream.formatted(a.url(), b.url(), "8s")));
        EndpointStates.awaitState(proxy.gateway(), b.port(), "unhealthy", 5_000);

        // a takes a long request; b is out, so the next one waits in the queue of this snapshot's upstream.
        RawHttpClient longClient = closer.add(proxy.connect());
        longClient.get("/long");
        Poll.until(() -> a.received().stream().anyMatch(e -> e.uri().equals("/long")), 5_000, () -> "/long never reached a");
        long start = System.nanoTime();
        RawHttpClient waiter = closer.add(proxy.connect());
        waiter.get("/queued");
        Poll.until(() -> proxy.gateway().activeRequests() == 2, 5_000, () -> "/queued is not in the queue");

        // A reload that changes the upstream (a new object, checked from now on), then b passes its check.
        proxy.gateway().reload(io.streamgate.config.ConfigLoader.parse(upstream.formatted(a.url(), b.url(), "9s"), "test.yaml"));
        healthB.set(200);
        RawResponse response = waiter.readResponse();
        long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals(200, response.status(), () -> "after " + waitedMillis + " ms: " + response);
        assertEquals("b /queued", response.bodyText());
        assertTrue(waitedMillis < 5_000, () -> "served after " + waitedMillis + " ms: b was back within a second");
    }

    /**
     * "When no endpoint of an upstream is available the request gets 503 (no_healthy_upstream)": also while others
     * wait in the queue. A non-empty queue sent every new request into it, so once the only endpoint went down they
     * waited the whole queue timeout for the same 503.
     */
    @Test
    void withWaitersQueuedANewRequestForAnUpstreamWithNothingAvailableIsRefusedAtOnce() throws Exception {
        java.util.concurrent.atomic.AtomicInteger health = new java.util.concurrent.atomic.AtomicInteger(200);
        TestBackend a = closer.add(TestBackend.builder().respond(exchange -> {
            if (exchange.uri().equals("/health")) {
                exchange.awaitBody(30);
                exchange.respond(health.get(), "text/plain", "health");
            } else {
                heldB.respond(exchange);
            }
        }).start());
        RunningProxy proxy = closer.add(RunningProxy.withUpstream("pool", """
                endpoints: ["%s"]
                max_in_flight: 1
                queue: {size: 4, timeout: 6s, fairness: fifo}
                health_check: {path: /health, interval: 100ms, timeout: 500ms, unhealthy_threshold: 1, healthy_threshold: 1}
                """.formatted(a.url())));

        RawHttpClient longClient = closer.add(proxy.connect());
        longClient.get("/long");
        Poll.until(() -> a.received().stream().anyMatch(e -> e.uri().equals("/long")), 5_000, () -> "/long never reached a");
        RawHttpClient waiting = closer.add(proxy.connect());
        waiting.get("/waiting");
        Poll.until(() -> proxy.gateway().activeRequests() == 2, 5_000, () -> "/waiting is not in the queue");

        health.set(503);
        EndpointStates.awaitState(proxy.gateway(), a.port(), "unhealthy", 5_000);
        long start = System.nanoTime();
        try (RawHttpClient client = proxy.connect()) {
            RawResponse response = client.get("/new").readResponse();
            long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            io.streamgate.testing.ErrorResponseAssert.assertError(response, 503, "no_healthy_upstream");
            assertTrue(waitedMillis < 3_000, () -> "refused only after " + waitedMillis + " ms");
        }
    }
}
