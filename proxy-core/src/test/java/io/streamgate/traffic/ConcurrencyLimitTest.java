package io.streamgate.traffic;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.ManualClock;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Concurrency limits with requests really in flight: the backend holds every answer until the test releases it,
 * so "two in flight" is a fact, not a race. Refusals come at once; a queue lets a request wait for a free slot, in
 * order and for a bounded time; a client that leaves frees its slot; a request that waited is read whole.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ConcurrencyLimitTest {
    private static final String ALICE = "sk-alice-0123456789";
    private static final String BOB = "sk-bob-9876543210";

    private final HeldResponder held = new HeldResponder(Responders.requestLineAndBody());
    private final List<RawHttpClient> clients = new ArrayList<>();
    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(held).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                api_keys:
                  - name: alice
                    key: "%s"
                  - name: bob
                    key: "%s"
                rate_limits:
                  two_at_once: { key: api_key, concurrent: 2 }
                  two_and_a_queue: { key: api_key, concurrent: 2, queue: 1, queue_timeout: 2s }
                  one_and_a_short_queue: { key: api_key, concurrent: 1, queue: 1, queue_timeout: 300ms }
                  one_and_a_queue: { key: api_key, concurrent: 1, queue: 1, queue_timeout: 5s }
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /c
                    upstream: backend
                    auth: required
                    rate_limits: [two_at_once]
                  - path_prefix: /q
                    upstream: backend
                    auth: required
                    rate_limits: [two_and_a_queue]
                  - path_prefix: /t
                    upstream: backend
                    auth: required
                    rate_limits: [one_and_a_short_queue]
                  - path_prefix: /e
                    upstream: backend
                    auth: required
                    rate_limits: [one_and_a_queue]
                    cache: { post: always }
                """.formatted(ALICE, BOB, backend.url()), new Streamgate.Options(new SimpleMeterRegistry(), new ManualClock()));
    }

    @AfterEach
    void stop() throws Exception {
        held.releaseAll();
        for (RawHttpClient client : clients) {
            client.close();
        }
        proxy.close();
        backend.close();
    }

    /** Sends a GET as {@code key} on a new connection and returns the connection, for reading the answer later. */
    private RawHttpClient send(String target, String key) throws IOException {
        RawHttpClient client = proxy.connect();
        clients.add(client);
        client.get(target, "Authorization: Bearer " + key);
        return client;
    }

    /** Sends a JSON POST as {@code key} on a new connection and returns the connection. */
    private RawHttpClient post(String target, String key, String json) throws IOException {
        RawHttpClient client = proxy.connect();
        clients.add(client);
        client.post(target, json, "Authorization: Bearer " + key, "Content-Type: application/json");
        return client;
    }

    private void awaitActive(int n) throws InterruptedException {
        Poll.until(() -> proxy.gateway().activeRequests() == n, 5_000,
                () -> n + " requests in flight at the gateway, found " + proxy.gateway().activeRequests());
    }

    @Test
    void aThirdConcurrentRequestIsRefusedAtOnce() throws Exception {
        RawHttpClient first = send("/c/1", ALICE);
        RawHttpClient second = send("/c/2", ALICE);
        held.awaitArrived(2, 5_000);

        // Both answers are still held by the backend: this refusal cannot have waited for either of them.
        RawResponse third = send("/c/3", ALICE).readResponse();
        assertError(third, 429, "too_many_concurrent_requests");
        assertTrue(third.header("retry-after") != null, third::toString);
        assertEquals(2, held.arrived());

        RawHttpClient bobs = send("/c/bob", BOB);
        held.awaitArrived(3, 5_000); // bob has slots of his own

        held.release("/c/1");
        held.release("/c/2");
        held.release("/c/bob");
        assertEquals("GET /c/1", first.readResponse().bodyText());
        assertEquals("GET /c/2", second.readResponse().bodyText());
        assertEquals("GET /c/bob", bobs.readResponse().bodyText());
        awaitActive(0);

        held.release("/c/4");
        RawResponse after = send("/c/4", ALICE).readResponse();
        assertEquals(200, after.status(), () -> "finished requests must free their slots: " + after);
        assertEquals(4, backend.received().size());
        assertTrue(backend.received().stream().noneMatch(e -> e.uri().equals("/c/3")), "the refused request reached the backend");
    }

    @Test
    void aQueuedRequestIsServedWhenASlotFreesAndOneBeyondTheQueueIsRefused() throws Exception {
        RawHttpClient first = send("/q/1", ALICE);
        RawHttpClient second = send("/q/2", ALICE);
        held.awaitArrived(2, 5_000);
        RawHttpClient queued = send("/q/3", ALICE);
        awaitActive(3);

        RawResponse fourth = send("/q/4", ALICE).readResponse();
        assertError(fourth, 429, "too_many_concurrent_requests");
        assertEquals(2, backend.received().size(), "the queued request must wait for a slot");

        held.release("/q/1");
        assertEquals("GET /q/1", first.readResponse().bodyText());
        held.awaitArrived(3, 5_000);
        assertEquals("/q/3", backend.received().get(2).uri(), "the queued request takes the freed slot");

        held.release("/q/2");
        held.release("/q/3");
        assertEquals("GET /q/2", second.readResponse().bodyText());
        RawResponse served = queued.readResponse();
        assertEquals(200, served.status(), served::toString);
        assertEquals("GET /q/3", served.bodyText());
        assertEquals(3, backend.received().size());
    }

    @Test
    void aQueuedRequestTimesOutWith429WhenNoSlotFrees() throws Exception {
        RawHttpClient first = send("/t/1", ALICE);
        held.awaitArrived(1, 5_000);

        RawResponse timedOut = send("/t/2", ALICE).readResponse(); // queue_timeout is 300ms; the read gives up after 10 s
        assertError(timedOut, 429, "too_many_concurrent_requests");
        assertEquals(1, backend.received().size());

        held.release("/t/1");
        assertEquals("GET /t/1", first.readResponse().bodyText());
        awaitActive(0);
        held.release("/t/3");
        assertEquals(200, send("/t/3", ALICE).readResponse().status(), "the timed-out waiter must not keep a slot");
    }

    @Test
    void aClientThatLeavesFreesItsSlot() throws Exception {
        RawHttpClient leaving = send("/c/1", ALICE);
        RawHttpClient staying = send("/c/2", ALICE);
        held.awaitArrived(2, 5_000);
        BackendExchange leavingAtBackend = backend.received().stream().filter(e -> e.uri().equals("/c/1")).findFirst().orElseThrow();

        leaving.close();
        leavingAtBackend.connection().closed().get(5, TimeUnit.SECONDS);
        awaitActive(1);

        RawHttpClient replacement = send("/c/3", ALICE);
        held.awaitArrived(3, 5_000);
        held.release("/c/2");
        held.release("/c/3");
        assertEquals("GET /c/2", staying.readResponse().bodyText());
        RawResponse served = replacement.readResponse();
        assertEquals(200, served.status(), () -> "the slot of the client that left was not freed: " + served);
        assertEquals("GET /c/3", served.bodyText());
    }

    /**
     * A POST that waits in the queue has its whole body arrive while it waits. Once admitted it must still be read
     * (here for the cache key): two queued POSTs with different bodies are two cache entries, not one answer served
     * for both.
     */
    @Test
    void aQueuedPostIsReadWholeOnceAdmitted() throws Exception {
        RawHttpClient holder = post("/e/hold-1", ALICE, "{\"input\":\"one\"}");
        held.awaitArrived(1, 5_000);
        RawHttpClient queued = post("/e/x", ALICE, "{\"input\":\"two\"}");
        awaitActive(2);
        held.release("/e/hold-1");
        held.release("/e/x");
        assertEquals("POST /e/hold-1 {\"input\":\"one\"}", holder.readResponse().bodyText());
        RawResponse second = queued.readResponse();
        assertEquals("POST /e/x {\"input\":\"two\"}", second.bodyText(), second::toString);

        RawHttpClient holder2 = post("/e/hold-2", ALICE, "{\"input\":\"three\"}");
        held.awaitArrived(3, 5_000);
        RawHttpClient queued2 = post("/e/x", ALICE, "{\"input\":\"four\"}");
        awaitActive(2);
        held.release("/e/hold-2");
        assertEquals("POST /e/hold-2 {\"input\":\"three\"}", holder2.readResponse().bodyText());
        RawResponse fourth = queued2.readResponse();
        assertEquals("POST /e/x {\"input\":\"four\"}", fourth.bodyText(),
                () -> "a queued POST was answered with another body's cached response: " + fourth);
        assertEquals(4, backend.received().size());

        RawResponse again = post("/e/x", ALICE, "{\"input\":\"two\"}").readResponse();
        assertEquals("HIT", again.header("x-cache"), again::toString);
        assertEquals("POST /e/x {\"input\":\"two\"}", again.bodyText());
    }
}
