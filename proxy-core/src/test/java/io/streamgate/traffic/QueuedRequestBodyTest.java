package io.streamgate.traffic;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.Closer;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ReceivedBody;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A request whose body arrives while the request waits (the upstream queue, a concurrency slot). The gateway reads a
 * waiting request's body up to 64 KiB: a client that stalls then is timed out, one that sent it in time is not, and a
 * client that leaves meanwhile gives its place up. Beyond 64 KiB the gateway holds the body back, and that pause is
 * not the client's. body_idle_timeout is 1 s throughout; the waits are 1.5-2 s.
 */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class QueuedRequestBodyTest {
    private static final String FIRST = "{\"a\":\"one\",";
    private static final String REST = "\"b\":\"two\"}";

    private final Closer closer = new Closer();
    private final HeldResponder held = new HeldResponder(Responders.requestLineAndBody());
    private TestBackend backend;

    @AfterEach
    void closeAll() throws Exception {
        held.releaseAll();
        closer.close();
    }

    /** One endpoint at max_in_flight 1 with a queue in front of it. */
    private RunningProxy upstreamQueue() throws Exception {
        backend = closer.add(TestBackend.builder().respond(held).start());
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
        backend = closer.add(TestBackend.builder().respond(held).start());
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

    /** The upstream queue: the whole body arrived in time, so the wait is not the client's (it was answered 408). */
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

    /** A body that stalls while its request waits is the client's pause: 408, while the request is still queued. */
    @Test
    void aBodyThatStallsWhileTheRequestWaitsIsTimedOut() throws Exception {
        RunningProxy proxy = upstreamQueue();
        RawHttpClient holder = holdTheSlot(proxy);
        RawHttpClient client = startPost(proxy, "/post", 100, "{\"a\":");
        Poll.until(() -> upstreamQueued(proxy) == 1, 5_000, () -> "not queued");
        assertError(client.readResponse(), 408, "request_timeout"); // the rest of the body never comes
        assertEquals(1, held.arrived(), "the request must have been answered while it waited");
        held.release("/hold");
        assertEquals(200, holder.readResponse().status());
    }

    /**
     * A body larger than what a waiting request may hold (64 KiB) is held back by the gateway while the request waits:
     * that pause, 2 s against a body_idle_timeout of 1 s, is not the client's, and the whole body reaches the backend.
     */
    @Test
    void aLargeBodyHeldBackWhileTheRequestWaitsIsNotTimedOut() throws Exception {
        RunningProxy proxy = upstreamQueue();
        RawHttpClient holder = holdTheSlot(proxy);
        String body = "{\"a\":\"" + "x".repeat(200 * 1024) + "\"}";
        RawHttpClient client = startPost(proxy, "/post", body.length(), body);
        Poll.until(() -> upstreamQueued(proxy) == 1, 5_000, () -> "not queued");
        Thread.sleep(2_000);
        held.release("/hold");
        assertEquals(200, holder.readResponse().status());
        held.release("/post");
        RawResponse response = client.readResponse();
        assertEquals(200, response.status(), () -> response.status() + " " + response.header("content-length"));
        ReceivedBody received = backend.received().stream().filter(e -> e.uri().equals("/post")).findFirst()
                .orElseThrow().awaitBody(5);
        assertEquals(body.length(), received.length(), "the whole body must reach the backend");
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body.getBytes(StandardCharsets.US_ASCII))),
                received.sha256(), "byte for byte");
    }

    /**
     * A client that sent half a body and closes its connection while its request waits in a concurrency queue gives
     * its place up, on every transport: the gateway reads a waiting request's body, and so sees the close.
     */
    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
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
