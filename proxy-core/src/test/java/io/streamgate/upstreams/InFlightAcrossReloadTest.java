package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.streamgate.config.ConfigLoader;
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
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code max_in_flight} across a reload that changes the upstream (so a new upstream object replaces the old one):
 * requests in flight on the old snapshot still count against an endpoint that stays, and when they finish their slots
 * go to requests waiting on the new one. The backend holds every answer until the test releases it.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class InFlightAcrossReloadTest {
    private final Closer closer = new Closer();
    private final HeldResponder held = new HeldResponder(Responders.requestLine());

    @AfterEach
    void closeAll() throws Exception {
        held.releaseAll();
        closer.close();
    }

    private static String yaml(TestBackend backend, String queueTimeout) {
        return """
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  llm:
                    endpoints: ["%s"]
                    max_in_flight: 2
                    queue: {size: 1, timeout: %s, fairness: fifo}
                routes:
                  - path_prefix: /
                    upstream: llm
                """.formatted(backend.url(), queueTimeout);
    }

    @Test
    void requestsInFlightBeforeAReloadStillCountAgainstMaxInFlight() throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start(yaml(backend, "30s")));
        InFlightRequest first = closer.add(InFlightRequest.get(proxy.port(), "/1"));
        InFlightRequest second = closer.add(InFlightRequest.get(proxy.port(), "/2"));
        held.awaitArrived(2, 5_000);

        // A changed queue timeout replaces the upstream; its one endpoint stays, with two requests in flight.
        proxy.gateway().reload(ConfigLoader.parse(yaml(backend, "29s"), "test.yaml"));

        InFlightRequest third = closer.add(InFlightRequest.get(proxy.port(), "/3"));
        Poll.until(() -> queued(proxy) == 1, 5_000,
                () -> "/3 should wait for a slot; queued " + queued(proxy) + ", at the backend " + uris(backend));
        assertEquals(Set.of("/1", "/2"), Set.copyOf(uris(backend)), "max_in_flight 2 exceeded after the reload");
        try (RawHttpClient client = proxy.connect()) {
            RefusalAssert.assertRefusedWithRetryAfter(client.get("/4").readResponse(), 503);
        }

        // A request of the old snapshot finishing frees the slot for the one waiting on the new snapshot.
        held.release("/1");
        assertEquals(200, first.await(10_000).status());
        held.awaitArrived(3, 5_000);
        assertEquals("/3", uris(backend).get(2));
        assertFalse(third.isDone());
        held.release("/2");
        held.release("/3");
        assertEquals(200, second.await(10_000).status());
        RawResponse answer = third.await(10_000);
        assertEquals(200, answer.status(), answer::toString);
        Poll.until(() -> proxy.gateway().activeRequests() == 0, 5_000, () -> "requests still active");
    }

    /**
     * A request that queued on the snapshot before last: the reload after the one it queued on must not cut it off from
     * the slots freed by requests older than both. It used to sleep through the free slot until its queue timeout.
     */
    @Test
    void aRequestWaitingAcrossTwoReloadsGetsTheSlotOfARequestFromBeforeBoth() throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start(yaml(backend, "30s")));
        InFlightRequest first = closer.add(InFlightRequest.get(proxy.port(), "/1"));
        InFlightRequest second = closer.add(InFlightRequest.get(proxy.port(), "/2"));
        held.awaitArrived(2, 5_000);

        proxy.gateway().reload(ConfigLoader.parse(yaml(backend, "29s"), "test.yaml"));
        InFlightRequest third = closer.add(InFlightRequest.get(proxy.port(), "/3"));
        Poll.until(() -> queued(proxy) == 1, 5_000, () -> "/3 should wait for a slot; at the backend " + uris(backend));
        proxy.gateway().reload(ConfigLoader.parse(yaml(backend, "28s"), "test.yaml"));

        held.release("/1");
        assertEquals(200, first.await(10_000).status());
        held.awaitArrived(3, 5_000);
        assertEquals("/3", uris(backend).get(2));
        held.release("/2");
        held.release("/3");
        assertEquals(200, second.await(10_000).status());
        RawResponse answer = third.await(10_000);
        assertEquals(200, answer.status(), answer::toString);
    }

    private static int queued(RunningProxy proxy) {
        return (int) proxy.gateway().meters().get("streamgate.upstream.queue.waiting").gauge().value();
    }

    private static List<String> uris(TestBackend backend) {
        return backend.received().stream().map(BackendExchange::uri).toList();
    }
}
