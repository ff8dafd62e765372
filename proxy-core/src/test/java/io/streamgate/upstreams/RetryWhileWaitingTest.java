package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Retries that wait: for a connection to the next endpoint, for a place in the upstream queue, for a fresh
 * connection after a stale one. While a retry waits, the rest of the body may still arrive and other deadlines run;
 * the request must still reach the backend once, whole, and not the endpoint that just failed.
 */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class RetryWhileWaitingTest {
    private final Closer closer = new Closer();
    private final HeldResponder held = new HeldResponder(Responders.requestLineAndBody());

    @AfterEach
    void closeAll() throws Exception {
        held.releaseAll();
        closer.close();
    }

    private static String head(String target, int length) {
        return "POST " + target + " HTTP/1.1\r\nHost: test.local\r\nContent-Type: application/json\r\nContent-Length: "
                + length + "\r\n\r\n";
    }

    /**
     * A request reset by endpoint A while its body is still within replay_buffer is retried on B, whose only pooled
     * connection (pool.max_connections: 1, one event loop) is busy, so the retry waits for it. The rest of the body
     * arrives meanwhile (the client connection had a read pending) and outgrows replay_buffer. The copies are still
     * needed for the retry, so they are kept until it is sent (the request hung before: the copies were dropped and
     * the resend failed).
     */
    @Test
    void theRestOfABodyArrivingWhileARetryWaitsForAConnectionIsNotLost() throws Exception {
        TestBackend a = closer.add(TestBackend.builder().respond(BackendExchange::reset).start());
        TestBackend b = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 1
                upstreams:
                  pool:
                    endpoints: ["%s", "%s"]
                    replay_buffer: 1KiB
                    pool: {max_connections: 1}
                routes:
                  - path_prefix: /
                    upstream: pool
                """.formatted(a.url(), b.url())));
        RawHttpClient holder = closer.add(proxy.connect());
        holder.get("/hold"); // reaches b (directly, or after a's reset)
        held.awaitArrived(1, 5_000);

        String first = "{\"a\":\"" + "x".repeat(400) + "\",";
        String rest = "\"b\":\"" + "y".repeat(2_000) + "\"}";
        int length = (first + rest).getBytes(StandardCharsets.UTF_8).length;
        RawHttpClient client = closer.add(proxy.connect());
        client.send(head("/post", length) + first);
        Poll.until(() -> a.received().stream().anyMatch(e -> e.uri().equals("/post")), 5_000, () -> "not at a");
        Thread.sleep(300); // a reset it; the retry waits for b's one connection
        client.send(rest);
        Thread.sleep(300);
        held.release("/hold");
        assertEquals(200, holder.readResponse().status());
        held.release("/post");
        RawResponse response = client.readResponse();
        assertEquals("POST /post " + first + rest, response.bodyText(), response::toString);
    }

    /**
     * Endpoint A resets; B is at max_in_flight, so the retry waits in the upstream queue. The queue must not hand it
     * A, whose slot was just given back: the retry waits for B (it went to A again before, and failed with 502).
     */
    @Test
    void aRetryThatWaitsInTheQueueIsNotSentBackToTheEndpointThatFailed() throws Exception {
        TestBackend a = closer.add(TestBackend.builder().respond(BackendExchange::reset).start());
        TestBackend b = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  pool:
                    endpoints: ["%s", "%s"]
                    max_in_flight: 1
                    queue: {size: 8, timeout: 10s}
                routes:
                  - path_prefix: /
                    upstream: pool
                """.formatted(a.url(), b.url())));
        RawHttpClient holder = closer.add(proxy.connect());
        holder.get("/hold"); // reaches b (directly, or after a's reset)
        held.awaitArrived(1, 5_000);
        Poll.until(() -> proxy.gateway().activeRequests() == 1, 5_000, () -> "holder not settled");

        RawHttpClient client = closer.add(proxy.connect());
        client.post("/post", "{\"n\":1}", "Content-Type: application/json");
        Thread.sleep(500);
        held.release("/hold");
        assertEquals(200, holder.readResponse().status());
        held.release("/post");
        RawResponse response = client.readResponse();
        assertEquals(200, response.status(), () -> response + " ; a received "
                + a.received().stream().map(BackendExchange::uri).toList() + ", b received "
                + b.received().stream().map(BackendExchange::uri).toList());
    }

    /**
     * A request met a reused connection the backend had closed (stale), so it waits for a fresh connection to A (A's
     * pool is full: max_connections 1, and the next request got the slot). Nothing is sent meanwhile, so the
     * first-byte failover armed when it was first sent does not fire during that wait: the request goes to A once
     * more and to nothing else (before, the failover sent it to B while the acquire on A was pending, and A got it
     * as well).
     */
    @Test
    void aStaleRetryWaitingForAConnectionIsNeitherFailedOverNorSentTwice() throws Exception {
        AtomicInteger dies = new AtomicInteger();
        HeldResponder heldA = new HeldResponder(ex -> {
            if (ex.uri().equals("/die") && dies.getAndIncrement() == 0) {
                ex.die();
            } else {
                ex.respond(200, "text/plain", "a " + ex.uri());
            }
        });
        TestBackend a = closer.add(TestBackend.builder().respond(heldA).start());
        TestBackend b = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 1
                upstreams:
                  pool:
                    endpoints: ["%s", "%s"]
                    balance: consistent_hash
                    hash_key: header:x-pin
                    load_factor: 100
                    pool: {max_connections: 1}
                routes:
                  - path_prefix: /
                    upstream: pool
                    timeouts: {first_byte: 20s, first_byte_failover: 1s}
                """.formatted(a.url(), b.url())));
        try {
            String pin = pinTo("a ", proxy, heldA);
            RawHttpClient dying = closer.add(proxy.connect());
            dying.get("/die", "x-pin: " + pin); // on the pooled (warm) connection to a
            Poll.until(() -> a.received().stream().anyMatch(e -> e.uri().equals("/die")), 5_000, () -> "no /die at a");
            RawHttpClient x = closer.add(proxy.connect());
            x.get("/x", "x-pin: " + pin); // waits for a's one connection
            Thread.sleep(200);
            heldA.release("/die"); // a closes that connection unanswered: /x gets the slot, /die waits for a fresh one
            Poll.until(() -> a.received().stream().anyMatch(e -> e.uri().equals("/x")), 5_000, () -> "no /x at a");
            // Longer than first_byte_failover. /x itself fails over to b meanwhile, which frees a's connection.
            Thread.sleep(1_500);
            assertEquals(0, b.received().stream().filter(e -> e.uri().equals("/die")).count(),
                    "failed over while waiting for a connection: nothing had been sent");
            heldA.release("/x");
            held.release("/x");
            assertEquals(200, x.readResponse().status());
            RawResponse response = dying.readResponse();
            assertEquals("a /die", response.bodyText(), response::toString);
            assertEquals(2, a.received().stream().filter(e -> e.uri().equals("/die")).count());
            assertEquals(0, b.received().stream().filter(e -> e.uri().equals("/die")).count());
        } finally {
            heldA.releaseAll();
        }
    }

    /** A value of the x-pin header that the consistent hash sends to the backend answering with {@code prefix}. */
    private String pinTo(String prefix, RunningProxy proxy, HeldResponder heldA) throws Exception {
        for (int i = 0; i < 64; i++) {
            heldA.release("/warm" + i);
            held.release("/warm" + i);
            RawHttpClient c = closer.add(proxy.connect());
            if (c.get("/warm" + i, "x-pin: k" + i).readResponse().bodyText().startsWith(prefix)) {
                return "k" + i;
            }
        }
        throw new AssertionError("no x-pin value among 64 hashes to the backend answering " + prefix);
    }
}
