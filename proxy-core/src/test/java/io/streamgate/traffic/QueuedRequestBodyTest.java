package io.streamgate.traffic;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.Closer;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
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
 * client is not blamed for the gateway's own pause, and a client that leaves meanwhile gives its place up.
 */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class QueuedRequestBodyTest {
    private final Closer closer = new Closer();
    /** Holds each answer until the test releases it, then answers "METHOD URI body". */
    private final HeldResponder held = new HeldResponder(exchange -> {
        String body = exchange.awaitBody(30).text();
        exchange.respond(200, "text/plain", exchange.method() + " " + exchange.uri() + (body.isEmpty() ? "" : " " + body));
    });

    @AfterEach
    void closeAll() throws Exception {
        held.releaseAll();
        closer.close();
    }

    private static String head(String target, int length) {
        return "POST " + target + " HTTP/1.1\r\nHost: test.local\r\nContent-Type: application/json\r\nContent-Length: "
                + length + "\r\n\r\n";
    }

    private static int queued(RunningProxy proxy) {
        return (int) proxy.gateway().meters().get("streamgate.upstream.queue.waiting").gauge().value();
    }

    /**
     * body_idle_timeout 1s; a POST waits 2 s in the upstream queue (max_in_flight) while its client has already sent
     * the whole body. The gateway does not read while the request waits, so that time is not the client's idle time
     * (it was answered 408 before).
     */
    @Test
    void aBodySentInTimeIsNotTimedOutWhileTheRequestWaitsInTheQueue() throws Exception {
        TestBackend good = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
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
                """.formatted(good.url())));
        RawHttpClient holder = closer.add(proxy.connect());
        holder.get("/hold");
        held.awaitArrived(1, 5_000);

        String first = "{\"a\":\"one\",";
        String rest = "\"b\":\"two\"}";
        RawHttpClient client = closer.add(proxy.connect());
        client.send(head("/post", (first + rest).length()) + first);
        Poll.until(() -> queued(proxy) == 1, 5_000, () -> "not queued");
        Thread.sleep(100);
        client.send(rest); // the whole body is sent within 100 ms of the head
        Thread.sleep(2_000);
        held.release("/hold");
        assertEquals(200, holder.readResponse().status());
        held.release("/post");
        RawResponse response = client.readResponse();
        assertEquals(200, response.status(), response::toString);
        assertEquals("POST /post " + first + rest, response.bodyText(), response::toString);
    }

    /** Same, with the wait in a rate-limit concurrency queue. */
    @Test
    void aBodySentInTimeIsNotTimedOutWhileTheRequestWaitsForAConcurrencySlot() throws Exception {
        TestBackend good = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
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
                """.formatted(good.url())));
        RawHttpClient holder = closer.add(proxy.connect());
        holder.get("/hold");
        held.awaitArrived(1, 5_000);

        String first = "{\"a\":\"one\",";
        String rest = "\"b\":\"two\"}";
        RawHttpClient client = closer.add(proxy.connect());
        client.send(head("/post", (first + rest).length()) + first);
        Poll.until(() -> proxy.gateway().activeRequests() == 2, 5_000, () -> "not active");
        Thread.sleep(100);
        client.send(rest);
        Thread.sleep(2_000);
        held.release("/hold");
        assertEquals(200, holder.readResponse().status());
        held.release("/post");
        RawResponse response = client.readResponse();
        assertEquals(200, response.status(), response::toString);
        assertEquals("POST /post " + first + rest, response.bodyText(), response::toString);
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
        TestBackend good = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  transport: %s
                rate_limits:
                  one: { key: client_ip, concurrent: 1, queue: 1, queue_timeout: 10s }
                upstreams:
                  pool:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: pool
                    rate_limits: [one]
                """.formatted(transport, good.url())));
        RawHttpClient holder = closer.add(proxy.connect());
        holder.get("/hold");
        held.awaitArrived(1, 5_000);

        RawHttpClient leaving = closer.add(proxy.connect());
        leaving.send(head("/left", 100) + "{\"a\":");
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

    /** Expect: 100-continue: the gateway says 100 at once and the client sends its body; the wait that follows is the gateway's. */
    @Test
    void aBodySentAfter100ContinueIsNotTimedOutWhileQueued() throws Exception {
        TestBackend good = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
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
                """.formatted(good.url())));
        RawHttpClient holder = closer.add(proxy.connect());
        holder.get("/hold");
        held.awaitArrived(1, 5_000);
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
        TestBackend good = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
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
                """.formatted(good.url())));
        RawHttpClient holder = closer.add(proxy.connect());
        holder.get("/hold");
        held.awaitArrived(1, 5_000);

        RawHttpClient client = closer.add(proxy.connect());
        client.send(head("/post", 100) + "{\"a\":");
        Poll.until(() -> queued(proxy) == 1, 5_000, () -> "not queued");
        Thread.sleep(1_500); // longer than body_idle_timeout, but the gateway is the one waiting
        held.release("/hold");
        assertEquals(200, holder.readResponse().status());
        long sent = System.nanoTime();
        RawResponse response = client.readResponse(); // the rest of the body never comes
        long waitedMs = (System.nanoTime() - sent) / 1_000_000;
        assertError(response, 408, "request_timeout");
        assertTrue(waitedMs >= 900, () -> "timed out " + waitedMs + " ms after the request left the queue");
    }
}
