package io.streamgate.http2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.DirectMemorySampler;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * HTTP/2 streams whose request waits (the upstream queue, a backend that does not read) while the client goes on with
 * the connection: a reset or a closed connection gives the queue place back and never reaches the backend, a waiting
 * stream's unread body does not stall the other streams' uploads (the connection window covers every stream), and
 * frames a receiver must ignore do not pile up on a waiting stream.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class Http2WaitingStreamTest {
    private final Closer closer = new Closer();
    private HeldResponder held;

    @AfterEach
    void closeAll() throws Exception {
        if (held != null) {
            held.releaseAll();
        }
        closer.close();
    }

    private RunningProxy queuedProxy(TestBackend backend, String extraServer, int queueSize) throws Exception {
        return closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  h2c: true
                %s
                upstreams:
                  llm:
                    endpoints: ["%s"]
                    max_in_flight: 1
                    queue: {size: %d, timeout: 10s}
                routes:
                  - path_prefix: /
                    upstream: llm
                """.formatted(extraServer, backend.url(), queueSize)));
    }

    /**
     * GET /held takes the only slot (its stream is returned); POST /zombie, its body sent, waits in the queue and is
     * then reset by the client.
     */
    private H2Probe.Stream holdTheSlotAndResetAQueuedPost(H2Probe client) throws Exception {
        H2Probe.Stream a = client.open(H2Probe.headers("GET", "/held"), true);
        held.awaitArrived(1, 5_000);
        H2Probe.Stream b = client.open(H2Probe.headers("POST", "/zombie", "content-type", "application/json"), false);
        client.data(b, "{\"model\":\"m\"}", true).get(5, TimeUnit.SECONDS);
        Thread.sleep(500); // b waits in the queue
        client.reset(b);
        return a;
    }

    /**
     * One request holds the only slot; a POST waits in the (size 1) queue with its body sent; its client resets the
     * stream. The queue place must be given back: a third request must wait, not be refused as queue_full.
     */
    @Test
    void resetOfAQueuedPostGivesItsQueuePlaceBack() throws Exception {
        held = new HeldResponder(Responders.requestLine());
        TestBackend backend = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = queuedProxy(backend, "", 1);
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));
        try (AccessLogCapture log = AccessLogCapture.capture()) {
            H2Probe.Stream a = holdTheSlotAndResetAQueuedPost(client);
            String line = log.awaitLine(l -> l.contains("/zombie"), 2_000);

            H2Probe.Stream c = client.open(H2Probe.headers("GET", "/next"), true);
            try {
                H2Probe.Outcome early = c.outcome.get(1_500, TimeUnit.MILLISECONDS);
                fail("after the queued stream was reset, the next request was answered at once instead of waiting: " + early
                        + "; access log of the reset stream within 2 s: " + line);
            } catch (TimeoutException waiting) {
                // good: it waits in the queue
            }
            held.release("/held");
            held.release("/next");
            assertEquals(200, a.outcome.get(5, TimeUnit.SECONDS).status());
            assertEquals(200, c.outcome.get(5, TimeUnit.SECONDS).status());
            assertNotNull(line, "no access log line for the reset stream within 2 s");
        }
    }

    /** As above, but the client closes its whole connection while its POST waits in the queue. */
    @Test
    void connectionCloseWhileAPostIsQueuedGivesItsQueuePlaceBack() throws Exception {
        held = new HeldResponder(Responders.requestLine());
        TestBackend backend = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = queuedProxy(backend, "", 1);
        H2Probe first = closer.add(new H2Probe(proxy.port(), true));
        H2Probe.Stream a = first.open(H2Probe.headers("GET", "/held"), true);
        held.awaitArrived(1, 5_000);

        H2Probe leaving = new H2Probe(proxy.port(), true);
        H2Probe.Stream b = leaving.open(H2Probe.headers("POST", "/zombie", "content-type", "application/json"), false);
        leaving.data(b, "{\"model\":\"m\"}", true).get(5, TimeUnit.SECONDS);
        Thread.sleep(500);
        leaving.close();
        Thread.sleep(500);

        H2Probe.Stream c = first.open(H2Probe.headers("GET", "/next"), true);
        try {
            H2Probe.Outcome early = c.outcome.get(1_500, TimeUnit.MILLISECONDS);
            fail("after the client with the queued POST closed its connection, the next request was answered at once: " + early);
        } catch (TimeoutException waiting) {
            // good
        }
        held.release("/held");
        held.release("/next");
        assertEquals(200, a.outcome.get(5, TimeUnit.SECONDS).status());
        assertEquals(200, c.outcome.get(5, TimeUnit.SECONDS).status());
        Thread.sleep(300);
        assertTrue(backend.received().stream().noneMatch(e -> e.uri().equals("/zombie")),
                "the backend got the request of a client that had left: " + backend.received().stream().map(BackendExchange::uri).toList());
    }

    /**
     * Stream A uploads its body to the backend (the only slot). Stream B, on the same connection, waits in the queue
     * with 64 KiB of body. A's last DATA frame must still get through: the unread body of a waiting stream must not use
     * up the connection's flow-control window (it did, and A was answered 408).
     */
    @Test
    void aQueuedStreamsUnreadBodyDoesNotBlockTheOtherStreamsUploads() throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(Responders.requestLine()).start());
        RunningProxy proxy = queuedProxy(backend, "  limits: {body_idle_timeout: 3s}", 8);
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));

        H2Probe.Stream a = client.open(H2Probe.headers("POST", "/a", "content-type", "application/octet-stream"), false);
        client.data(a, new byte[1000], false).get(5, TimeUnit.SECONDS);
        BackendExchange atBackend = backend.takeExchange();
        assertEquals("/a", atBackend.uri());

        H2Probe.Stream b = client.open(H2Probe.headers("POST", "/b", "content-type", "application/octet-stream"), false);
        client.data(b, new byte[70_000], true); // flow control lets ~64 KiB out
        Thread.sleep(500);

        client.data(a, new byte[1000], true);
        H2Probe.Outcome outcomeA = a.outcome.get(10, TimeUnit.SECONDS);
        assertEquals(200, outcomeA.status(), "stream A: " + outcomeA);
        H2Probe.Outcome outcomeB = b.outcome.get(10, TimeUnit.SECONDS);
        assertEquals(200, outcomeB.status(), "stream B: " + outcomeB);
    }

    /**
     * Two upstreams: a stream queued for the slow one, with a body larger or smaller than a stream's window, must not
     * block a small upload to the other on the same connection (the larger one did, into a 408).
     */
    @ParameterizedTest(name = "queued body of {0} bytes")
    @ValueSource(ints = {70_000, 1_000})
    void aQueuedStreamDoesNotBlockAnotherRoutesUpload(int queuedBody) throws Exception {
        held = new HeldResponder(Responders.requestLine());
        TestBackend slow = closer.add(TestBackend.builder().respond(held).start());
        TestBackend fast = closer.add(TestBackend.builder().respond(Responders.requestLine()).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  h2c: true
                  limits: {body_idle_timeout: 3s}
                upstreams:
                  slow:
                    endpoints: ["%s"]
                    max_in_flight: 1
                    queue: {size: 8, timeout: 20s}
                  fast:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /slow
                    upstream: slow
                  - path_prefix: /fast
                    upstream: fast
                """.formatted(slow.url(), fast.url())));
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));
        client.open(H2Probe.headers("GET", "/slow/held"), true);
        held.awaitArrived(1, 5_000);
        H2Probe.Stream queued = client.open(H2Probe.headers("POST", "/slow/queued"), false);
        client.data(queued, new byte[queuedBody], true);
        Thread.sleep(500);
        H2Probe.Stream other = client.open(H2Probe.headers("POST", "/fast/x"), false);
        client.data(other, "small body", true);
        H2Probe.Outcome o = other.outcome.get(10, TimeUnit.SECONDS);
        assertEquals(200, o.status(), "a small upload to another upstream: " + o);
    }

    /** The same reset, of a queued GET (END_STREAM on HEADERS). */
    @Test
    void resetOfAQueuedGetGivesItsQueuePlaceBack() throws Exception {
        held = new HeldResponder(Responders.requestLine());
        TestBackend backend = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = queuedProxy(backend, "", 1);
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));
        H2Probe.Stream a = client.open(H2Probe.headers("GET", "/held"), true);
        held.awaitArrived(1, 5_000);
        H2Probe.Stream b = client.open(H2Probe.headers("GET", "/zombie"), true);
        Thread.sleep(500);
        client.reset(b);
        Thread.sleep(500);
        H2Probe.Stream c = client.open(H2Probe.headers("GET", "/next"), true);
        try {
            H2Probe.Outcome early = c.outcome.get(1_500, TimeUnit.MILLISECONDS);
            fail("answered at once: " + early);
        } catch (TimeoutException waiting) {
            // good
        }
        held.release("/held");
        held.release("/next");
        assertEquals(200, c.outcome.get(5, TimeUnit.SECONDS).status());
        assertTrue(backend.received().stream().noneMatch(e -> e.uri().equals("/zombie")));
    }

    /** A reset POST is not sent to the backend once the slot frees (it was, and only then was the reset noticed). */
    @Test
    void aResetQueuedPostIsNotSentToTheBackendLater() throws Exception {
        held = new HeldResponder(Responders.requestLine());
        TestBackend backend = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = queuedProxy(backend, "", 4);
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));
        try (AccessLogCapture log = AccessLogCapture.capture()) {
            H2Probe.Stream a = holdTheSlotAndResetAQueuedPost(client);
            Thread.sleep(1_000);
            held.releaseAll();
            assertEquals(200, a.outcome.get(5, TimeUnit.SECONDS).status());
            Thread.sleep(1_000);
            assertTrue(backend.received().stream().noneMatch(e -> e.uri().equals("/zombie")),
                    "the backend received the POST whose stream the client had reset 1 s before the slot freed: "
                            + backend.received().stream().map(BackendExchange::uri).toList() + "; access log: "
                            + log.lines().stream().filter(l -> l.contains("/zombie")).toList());
        }
    }

    /**
     * Unknown (extension) frames must be ignored (RFC 9113 4.1) and are not flow-controlled: 64 MB of them on one
     * stream, whose request body is still open or whose request is complete and waits for its response, are dropped
     * as they come (on a waiting stream they were parked, reading stopped after 64, and every further frame was
     * buffered by the stream channel: memory grew with whatever the client sent).
     */
    @ParameterizedTest(name = "request complete: {0}")
    @ValueSource(booleans = {true, false})
    void unknownFramesDoNotPileUp(boolean requestComplete) throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(Responders.silent()).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  h2c: true
                upstreams:
                  llm:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: llm
                """.formatted(backend.url())));
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));
        H2Probe.Stream s = client.open(H2Probe.headers(requestComplete ? "GET" : "POST", "/waiting"), requestComplete);
        backend.takeExchange();
        byte[] payload = new byte[16_000];
        try (DirectMemorySampler memory = DirectMemorySampler.start(5)) {
            CompletableFuture<Void> last = null;
            for (int i = 0; i < 4_000; i++) { // 64 MB
                last = client.unknown(s, payload);
                if (i % 100 == 99) {
                    last.get(10, TimeUnit.SECONDS);
                }
            }
            last.get(10, TimeUnit.SECONDS);
            Thread.sleep(500);
            memory.close();
            assertTrue(client.channel.isActive(), "connection closed");
            assertTrue(memory.nettyGrowth() < 16L * 1024 * 1024,
                    "64 MB of ignorable extension frames on one stream grew direct memory: " + memory.describe());
        }
    }
}
