package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.InFlightRequest;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RefusalAssert;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Per-endpoint {@code max_in_flight} with the upstream's wait queue. The one backend holds every answer until the
 * test releases it, so "one in flight, two waiting" is a fact: the backend has the one, and the gateway counts the
 * others as active requests. With {@code max_in_flight: 1} the order in which the backend receives requests is the
 * order the queue let them out, which is what the fairness tests assert on.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class QueueTest {
    private static final String ALICE = "sk-alice-0123456789";
    private static final String BOB = "sk-bob-9876543210";
    private static final String CAROL = "sk-carol-5555555555";

    private final Closer closer = new Closer();
    private final HeldResponder held = new HeldResponder(Responders.requestLine());
    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void startBackend() {
        backend = closer.add(TestBackend.builder().respond(held).start());
    }

    @AfterEach
    void closeAll() throws Exception {
        held.releaseAll();
        closer.close();
    }

    /** A gateway over the held backend with {@code max_in_flight: 1} and the given queue settings. */
    private void proxy(String queue) throws Exception {
        proxy(queue, "", "");
    }

    private void proxy(String queue, String apiKeys, String routeExtra) throws Exception {
        proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                %s
                upstreams:
                  llm:
                    endpoints: ["%s"]
                    max_in_flight: 1
                    queue: %s
                routes:
                  - path_prefix: /
                    upstream: llm
                %s
                """.formatted(apiKeys, backend.url(), queue, routeExtra.indent(4).stripTrailing())));
    }

    private static String keys(String alice, String bob, String carol) {
        return """
                api_keys:
                  - name: alice
                    key: "%s"
                %s
                  - name: bob
                    key: "%s"
                %s
                  - name: carol
                    key: "%s"
                %s
                """.formatted(ALICE, alice.indent(4).stripTrailing(), BOB, bob.indent(4).stripTrailing(),
                CAROL, carol.indent(4).stripTrailing());
    }

    private InFlightRequest send(String target, String... headers) throws Exception {
        return closer.add(InFlightRequest.get(proxy.port(), target, headers));
    }

    /**
     * Sends {@code target} and waits until it is in the upstream's wait queue: arrival order is then fixed. (Counting
     * active requests is not enough: an exchange counts as active a moment before it joins the queue, and under load
     * the next request, on another event loop, could join first.)
     */
    private InFlightRequest sendAndAwaitQueued(String target, String... headers) throws Exception {
        int before = queued();
        InFlightRequest request = send(target, headers);
        Poll.until(() -> queued() == before + 1, 5_000, () -> (before + 1) + " requests queued, found " + queued());
        return request;
    }

    private int queued() {
        return (int) proxy.gateway().meters().get("streamgate.upstream.queue.waiting").gauge().value();
    }

    private void awaitActive(int n) throws InterruptedException {
        Poll.until(() -> proxy.gateway().activeRequests() == n, 5_000,
                () -> n + " requests active at the gateway, found " + proxy.gateway().activeRequests());
    }

    private List<String> uris() {
        return backend.received().stream().map(BackendExchange::uri).toList();
    }

    private static void assertAnswered(InFlightRequest request) throws Exception {
        RawResponse response = request.await(10_000);
        assertEquals(200, response.status(), () -> request.target() + ": " + response);
        assertEquals("GET " + request.target(), response.bodyText());
    }

    @Test
    void oneInFlightTwoWaitAndTheFourthIsRefusedAtOnce() throws Exception {
        proxy("{size: 2, timeout: 30s, fairness: fifo}");
        InFlightRequest first = send("/q/1");
        held.awaitArrived(1, 5_000);
        InFlightRequest second = sendAndAwaitQueued("/q/2");
        InFlightRequest third = sendAndAwaitQueued("/q/3");
        assertEquals(List.of("/q/1"), uris(), "max_in_flight 1: the others must wait at the gateway");

        // The queue is full. The refusal cannot have waited for the 30s queue timeout: the read gives up after 10s.
        try (RawHttpClient client = proxy.connect()) {
            RefusalAssert.assertRefusedWithRetryAfter(client.get("/q/4").readResponse(), 503);
        }
        assertFalse(second.isDone() || third.isDone(), "the waiting requests must still wait");

        held.release("/q/1");
        assertAnswered(first);
        held.awaitArrived(2, 5_000);
        assertEquals("/q/2", uris().get(1), "the first waiter goes next");
        held.release("/q/2");
        assertAnswered(second);
        held.awaitArrived(3, 5_000);
        held.release("/q/3");
        assertAnswered(third);
        assertEquals(List.of("/q/1", "/q/2", "/q/3"), uris(), "the refused request must never reach the backend");
    }

    @Test
    void aWaiterNotLetThroughWithinTheQueueTimeoutGets503WithRetryAfter() throws Exception {
        proxy("{size: 2, timeout: 500ms, fairness: fifo}");
        InFlightRequest first = send("/t/1");
        held.awaitArrived(1, 5_000);

        long start = System.nanoTime();
        InFlightRequest second = send("/t/2");
        InFlightRequest third = send("/t/3");
        RawResponse timedOut = second.await(10_000);
        long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        RefusalAssert.assertRefusedWithRetryAfter(timedOut, 503);
        assertTrue(waitedMs >= 450, () -> "the waiter was refused after " + waitedMs + " ms, before its 500ms timeout");
        RefusalAssert.assertRefusedWithRetryAfter(third.await(10_000), 503);
        assertEquals(List.of("/t/1"), uris(), "timed-out waiters must never reach the backend");

        held.release("/t/1");
        assertAnswered(first);
        awaitActive(0);
        held.release("/t/4");
        assertAnswered(send("/t/4")); // the timed-out waiters left no trace in the queue or the slot
    }

    @Test
    void releasingTheRequestInFlightLetsTheWaitersThroughInArrivalOrder() throws Exception {
        proxy("{size: 5, timeout: 30s, fairness: fifo}");
        List<InFlightRequest> requests = new ArrayList<>();
        requests.add(send("/f/1"));
        held.awaitArrived(1, 5_000);
        for (int i = 2; i <= 6; i++) {
            requests.add(sendAndAwaitQueued("/f/" + i));
        }
        held.releaseAll();
        for (InFlightRequest request : requests) {
            assertAnswered(request);
        }
        assertEquals(List.of("/f/1", "/f/2", "/f/3", "/f/4", "/f/5", "/f/6"), uris());
    }

    @Test
    void withApiKeyFairnessALateKeyIsServedBeforeAnotherKeysBacklog() throws Exception {
        proxy("{size: 20, timeout: 30s, fairness: api_key}", keys("queue_weight: 1", "queue_weight: 1", ""),
                "auth: required");
        List<InFlightRequest> requests = queueBacklogThenLateArrivals(10, "bob", BOB, 2);
        releaseAndAwait(requests);

        List<String> order = uris();
        int lastBob = order.indexOf("/bob/2");
        long aliceBeforeBob = order.subList(0, lastBob).stream().filter(u -> u.startsWith("/alice/")).count();
        // /alice/0 was in flight before anyone waited; of alice's 10 waiting, a fair queue lets at most a few out
        // before both of bob's (equal weights: about one of alice's for each of bob's).
        assertTrue(aliceBeforeBob <= 1 + 4, () -> "bob waited behind alice's backlog: " + order);
        assertTrue(lastBob < order.size() - 1, () -> "bob's requests were served last: " + order);
    }

    @Test
    void withFifoFairnessALateKeyWaitsForTheWholeBacklog() throws Exception {
        proxy("{size: 20, timeout: 30s, fairness: fifo}", keys("", "", ""), "auth: required");
        List<InFlightRequest> requests = queueBacklogThenLateArrivals(10, "bob", BOB, 2);
        releaseAndAwait(requests);
        List<String> order = uris();
        assertEquals(List.of("/bob/1", "/bob/2"), order.subList(order.size() - 2, order.size()),
                () -> "in arrival order bob comes last: " + order);
    }

    @Test
    void aKeyWithThreeTimesTheQueueWeightIsServedAboutThreeTimesAsOften() throws Exception {
        proxy("{size: 20, timeout: 30s, fairness: api_key}", keys("queue_weight: 1", "queue_weight: 3", ""),
                "auth: required");
        List<InFlightRequest> requests = queueBacklogThenLateArrivals(8, "bob", BOB, 8);
        releaseAndAwait(requests);

        List<String> order = uris();
        // Position 0 is /alice/0, in flight before anyone waited; then the next 8 let out of the queue.
        List<String> firstEight = order.subList(1, 9);
        long bobs = firstEight.stream().filter(u -> u.startsWith("/bob/")).count();
        assertTrue(bobs >= 5, () -> "weight 3 against 1 should give bob about 6 of the first 8: " + order);
        assertTrue(bobs <= 7, () -> "alice (weight 1) must not starve: " + order);
    }

    @Test
    void aWaiterWithAHigherPriorityGoesFirst() throws Exception {
        proxy("{size: 20, timeout: 30s, fairness: api_key}", keys("", "", "priority: 5"), "auth: required");
        List<InFlightRequest> requests = queueBacklogThenLateArrivals(5, "carol", CAROL, 1);
        releaseAndAwait(requests);
        List<String> order = uris();
        assertEquals("/carol/1", order.get(1), () -> "the priority-5 waiter must jump alice's backlog: " + order);
    }

    /**
     * Alice queues five requests and gives them all up before any is served (her clients leave). Requests that were
     * never served must not count against her turn: when she then queues one more and bob queues three right after,
     * fair queuing serves her one in turn with bob's (she arrived first, so first), not behind all of bob's.
     */
    @Test
    void requestsThatLeftTheQueueUnservedDoNotCostTheirKeyItsTurn() throws Exception {
        proxy("{size: 20, timeout: 30s, fairness: api_key}", keys("", "", ""), "auth: required");
        List<InFlightRequest> requests = new ArrayList<>();
        requests.add(send("/carol/0", "Authorization: Bearer " + CAROL));
        held.awaitArrived(1, 5_000);
        List<InFlightRequest> abandoned = new ArrayList<>();
        for (int i = 1; i <= 5; i++) {
            abandoned.add(sendAndAwaitQueued("/alice/gone-" + i, "Authorization: Bearer " + ALICE));
        }
        for (InFlightRequest gone : abandoned) {
            gone.close();
        }
        Poll.until(() -> queued() == 0, 5_000, () -> "the abandoned requests left the queue, found " + queued());

        requests.add(sendAndAwaitQueued("/alice/1", "Authorization: Bearer " + ALICE));
        for (int i = 1; i <= 3; i++) {
            requests.add(sendAndAwaitQueued("/bob/" + i, "Authorization: Bearer " + BOB));
        }
        releaseAndAwait(requests);
        List<String> order = uris();
        assertEquals(List.of("/carol/0", "/alice/1", "/bob/1", "/bob/2", "/bob/3"), order,
                () -> "alice's one waiting request was put behind bob's for requests she had given up: " + order);
    }

    /**
     * Two endpoints, one request each. /b/0 holds endpoint B. /fail gets a 503 from A and its retry must wait for B
     * (it is not sent back to the endpoint that just failed). A has room again, so /ok, arriving next, must be sent
     * there at once rather than wait behind the retry until B frees.
     */
    @Test
    void aRetryWaitingForAnotherEndpointDoesNotHoldBackWaitersThatCanUseTheFreeOne() throws Exception {
        TestBackend a = closer.add(TestBackend.builder().respond(exchange -> {
            if (exchange.uri().equals("/ok")) {
                exchange.respond(200, "text/plain", "A /ok");
            } else {
                exchange.respond(503, "text/plain", "busy"); // /b/0 too, should it come here first: it ends up on B
            }
        }).start());
        proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  llm:
                    endpoints: ["%s", "%s"]
                    balance: least_outstanding
                    max_in_flight: 1
                    queue: {size: 10, timeout: 30s, fairness: fifo}
                    retries: {on: [connect_failure, reset, 503]}
                routes:
                  - path_prefix: /
                    upstream: llm
                """.formatted(backend.url(), a.url())));
        InFlightRequest holding = send("/b/0");
        held.awaitArrived(1, 5_000);
        InFlightRequest retried = sendAndAwaitQueued("/fail");
        InFlightRequest ok = send("/ok");
        RawResponse answer = ok.await(5_000);
        assertEquals(200, answer.status(), answer::toString);
        assertEquals("A /ok", answer.bodyText(), () -> "endpoint A was free: " + answer);
        assertFalse(retried.isDone(), "the retry still waits for B");
        held.releaseAll();
        assertAnswered(holding);
        assertAnswered(retried);
    }

    /**
     * Holds /alice/0 in flight, queues {@code backlog} of alice's requests, then {@code lateCount} of the other
     * key's, each known to be waiting before the next is sent. Returns them all, /alice/0 first.
     */
    private List<InFlightRequest> queueBacklogThenLateArrivals(int backlog, String lateName, String lateKey, int lateCount)
            throws Exception {
        List<InFlightRequest> requests = new ArrayList<>();
        requests.add(send("/alice/0", "Authorization: Bearer " + ALICE));
        held.awaitArrived(1, 5_000);
        for (int i = 1; i <= backlog; i++) {
            requests.add(sendAndAwaitQueued("/alice/" + i, "Authorization: Bearer " + ALICE));
        }
        for (int i = 1; i <= lateCount; i++) {
            requests.add(sendAndAwaitQueued("/" + lateName + "/" + i, "Authorization: Bearer " + lateKey));
        }
        assertEquals(List.of("/alice/0"), uris(), "everything but /alice/0 must be waiting at the gateway");
        return requests;
    }

    /** Lets every request through (one at a time, as max_in_flight allows) and checks each was answered. */
    private void releaseAndAwait(List<InFlightRequest> requests) throws Exception {
        held.releaseAll();
        for (InFlightRequest request : requests) {
            assertAnswered(request);
        }
        assertEquals(requests.size(), backend.received().size());
    }
}
