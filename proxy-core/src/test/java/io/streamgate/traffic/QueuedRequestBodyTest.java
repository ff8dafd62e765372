package io.streamgate.traffic;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.Closer;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A request whose body the gateway holds back while the request waits (the upstream queue, a concurrency slot): the
 * client is not blamed for the gateway's own pause, its idle time counts again once the request goes on, and a
 * client that leaves meanwhile gives its place up. body_idle_timeout is 1 s throughout; the waits are 1.5-2 s.
 */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class QueuedRequestBodyTest {
    private static final String FIRST = "{\"a\":\"one\",";
    private static final String REST = "\"b\":\"two\"}";

    private final Closer closer = new Closer();
    private final HeldResponder held = new HeldResponder(Responders.requestLineAndBody());

    @AfterEach
    void closeAll() throws Exception {
        held.releaseAll();
        closer.close();
    }

    /** One endpoint at max_in_flight 1 with a queue in front of it. */
    private RunningProxy upstreamQueue() throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(held).start());
        return closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  limits: {body_idle_timeout: 1s}
                upstreams:
                  pool:
                    endpoints: ["%s"]
                    max_in_flight: 1
                    queue: {size: 8, timeout: 10s}
                routes:
                  - path_prefix: /
                    upstream: pool
                """.formatted(backend.url())));
    }

    /** A rate limit of one request in flight per client address, with a queue of one. */
    private RunningProxy concurrencyQueue(String transport) throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(held).start());
        return closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  transport: %s
                  limits: {body_idle_timeout: 1s}
                rate_limits:
                  one: { key: client_ip, concurrent: 1, queue: 1, queue_timeout: 10s }
                upstreams:
                  pool:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: pool
                    rate_limits: [one]
                """.formatted(transport, backend.url())));
    }

    /** A GET that takes the one slot and keeps it until "/hold" is released. */
    private RawHttpClient holdTheSlot(RunningProxy proxy) throws Exception {
        RawHttpClient holder = closer.add(proxy.connect());
        holder.get("/hold");
        held.awaitArrived(1, 5_000);
        return holder;
    }

    /** Sends a POST head with {@code length} as Content-Length and the first part of the body. */
    private RawHttpClient startPost(RunningProxy proxy, String target, int length, String firstPart) throws Exception {
        RawHttpClient client = closer.add(proxy.connect());
        client.send("POST " + target + " HTTP/1.1\r\nHost: test.local\r\nContent-Type: application/json\r\nContent-Length: "
                + length + "\r\n\r\n" + firstPart);
        return client;
    }

    private static int upstreamQueued(RunningProxy proxy) {
        return (int) proxy.gateway().meters().get("streamgate.upstream.queue.waiting").gauge().value();
    }

    /** The client sent the whole body within 100 ms; the request waited 2 s; then it is answered as sent. */
    private void assertServedWhole(RawHttpClient holder, RawHttpClient client) throws Exception {
        client.send(REST);
        Thread.sleep(2_000);
        held.release("/hold");
        assertEquals(200, holder.readResponse().status());
        held.release("/post");
        RawResponse response = client.readResponse();
        assertEquals(200, response.status(), response::toString);
        assertEquals("POST /post " + FIRST + REST, response.bodyText(), response::toString);
    }

    /** The upstream queue: the gateway does not read while the request waits (it answered 408 for that wait before). */
    @Test
    void aBodySentInTimeIsNotTimedOutWhileTheRequestWaitsInTheQueue() throws Exception {
        RunningProxy proxy = upstreamQueue();
        RawHttpClient holder = holdTheSlot(proxy);
        RawHttpClient client = startPost(proxy, "/post", (FIRST + REST).length(), FIRST);
        Poll.until(() -> upstreamQueued(proxy) == 1, 5_000, () -> "not queued");
        Thread.sleep(100);
        assertServedWhole(holder, client);
    }

    /** The same, with the wait in a rate-limit concurrency queue. */
    @Test
    void aBodySentInTimeIsNotTimedOutWhileTheRequestWaitsForAConcurrencySlot() throws Exception {
        RunningProxy proxy = concurrencyQueue("auto");
        RawHttpClient holder = holdTheSlot(proxy);
        RawHttpClient client = startPost(proxy, "/post", (FIRST + REST).length(), FIRST);
        Poll.until(() -> proxy.gateway().activeRequests() == 2, 5_000, () -> "not active");
        Thread.sleep(100);
        assertServedWhole(holder, client);
    }

    /** Expect: 100-continue: the gateway says 100 at once and the client sends its body; the wait that follows is the gateway's. */
    @Test
    void aBodySentAfter100ContinueIsNotTimedOutWhileQueued() throws Exception {
        RunningProxy proxy = upstreamQueue();
        RawHttpClient holder = holdTheSlot(proxy);
        String body = "{\"a\":\"one\"}";
        RawHttpClient client = closer.add(proxy.connect());
        client.send("POST /post HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: " + body.length() + "\r\n\r\n");
        assertEquals(100, client.readHead().status());
        client.send(body);
        Thread.sleep(2_000);
        held.release("/hold");
        held.release("/post");
        assertEquals(200, holder.readResponse().status());
        RawResponse response = client.readResponse();
        assertEquals(200, response.status(), response::toString);
    }

    /** Once the request is on its way the client's idle time counts again: a body that stalls then is still a 408. */
    @Test
    void aBodyThatStallsAfterTheQueueIsStillTimedOut() throws Exception {
        RunningProxy proxy = upstreamQueue();
        RawHttpClient holder = holdTheSlot(proxy);
        RawHttpClient client = startPost(proxy, "/post", 100, "{\"a\":");
        Poll.until(() -> upstreamQueued(proxy) == 1, 5_000, () -> "not queued");
        Thread.sleep(1_500); // longer than body_idle_timeout, but the gateway is the one waiting
        held.release("/hold");
        assertEquals(200, holder.readResponse().status());
        long sent = System.nanoTime();
        RawResponse response = client.readResponse(); // the rest of the body never comes
        long waitedMs = (System.nanoTime() - sent) / 1_000_000;
        assertError(response, 408, "request_timeout");
        assertTrue(waitedMs >= 900, () -> "timed out " + waitedMs + " ms after the request left the queue");
    }

    /**
     * A client that sent half a body and closes its connection while its request waits in a concurrency queue gives
     * its place up, although the gateway is not reading its connection then: io_uring and epoll report the peer's
     * close (POLLRDHUP) without a read. (Java's NIO selector cannot, so with {@code transport: nio}, the fallback where
     * neither is available, such a request keeps its place until it is admitted or times out.)
     */
    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll"})
    void aClientThatLeavesWhileQueuedWithHalfABodyGivesUpItsPlace(String transport) throws Exception {
        RunningProxy proxy = concurrencyQueue(transport);
        RawHttpClient holder = holdTheSlot(proxy);
        RawHttpClient leaving = startPost(proxy, "/left", 100, "{\"a\":");
        Poll.until(() -> proxy.gateway().activeRequests() == 2, 5_000, () -> "not active");
        leaving.close();
        Thread.sleep(500);
        RawHttpClient next = closer.add(proxy.connect());
        next.get("/next");
        Thread.sleep(300);
        held.release("/hold");
        held.release("/next");
        assertEquals(200, holder.readResponse().status());
        RawResponse nextResponse = next.readResponse();
        assertEquals(200, nextResponse.status(), () -> "the place of the client that left was not freed: " + nextResponse);
    }
}
