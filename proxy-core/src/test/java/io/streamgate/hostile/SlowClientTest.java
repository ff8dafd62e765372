package io.streamgate.hostile;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.micrometer.core.instrument.Counter;
import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Slow and greedy clients: a header deadline against slowloris, a body idle timeout, and connection caps per IP
 * and in total. Normal clients keep being served while the slow ones are cut.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SlowClientTest {
    private TestBackend backend;
    private RunningProxy proxy;
    private final List<RawHttpClient> clients = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (RawHttpClient client : clients) {
            client.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    private void start(String limits) throws Exception {
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  limits:
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(limits, backend.url()));
    }

    /** streamgate_connections_refused_total for {@code reason}; 0 while it has no series. */
    private double refused(String reason) {
        Counter c = proxy.gateway().meters().find("streamgate.connections.refused").tag("reason", reason).counter();
        return c == null ? 0 : c.count();
    }

    private RawHttpClient open() throws IOException {
        RawHttpClient client = proxy.connect();
        clients.add(client);
        return client;
    }

    @Test
    void aSlowlorisHeaderSenderIsCutAfterTheHeaderDeadlineWhileOthersAreServed() throws Exception {
        start("    request_header_timeout: 1s\n");
        byte[] request = RawHttpClient.request("GET", "/v1/slow", null, "X-Padding: " + "p".repeat(40))
                .getBytes(StandardCharsets.ISO_8859_1);
        RawHttpClient slow = open();
        OutputStream out = slow.socket().getOutputStream();
        AtomicBoolean cut = new AtomicBoolean();
        long start = System.nanoTime();
        // Two threads of their own: on 2 cores the common pool may have one, and the normal client would then only
        // start after the slow writer has finished.
        ExecutorService threads = Executors.newFixedThreadPool(2);
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            // One byte every 300 ms: the request would take ~25 s to arrive.
            try {
                for (byte b : request) {
                    out.write(b);
                    out.flush();
                    TimeUnit.MILLISECONDS.sleep(300);
                    if (cut.get()) {
                        break;
                    }
                }
            } catch (IOException | InterruptedException e) {
                // the proxy closed the connection
            }
        }, threads);

        // Meanwhile a normal client on other connections is answered every time.
        AtomicInteger served = new AtomicInteger();
        CompletableFuture<Void> normal = CompletableFuture.runAsync(() -> {
            while (!cut.get()) {
                try (RawHttpClient client = proxy.connect()) {
                    RawResponse response = client.get("/v1/normal").readResponse();
                    assertEquals(200, response.status(), response::toString);
                    served.incrementAndGet();
                } catch (IOException e) {
                    throw new AssertionError("a normal client failed while a slowloris ran", e);
                }
            }
        }, threads);
        String answer = readUntilClosed(slow.socket(), 5_000);
        long serverClosedNanos = System.nanoTime() - start;
        cut.set(true);
        try {
            normal.get(10, TimeUnit.SECONDS);
            writer.get(5, TimeUnit.SECONDS);
        } finally {
            threads.shutdownNow();
        }

        double seconds = serverClosedNanos / 1e9;
        assertTrue(seconds >= 0.8 && seconds < 3.0, "the slow connection was closed after " + seconds + " s (deadline 1 s)");
        assertTrue(answer.isEmpty() || answer.startsWith("HTTP/1.1 408"), "a slowloris gets 408 or nothing: " + answer);
        assertTrue(served.get() > 0, "no normal request was served meanwhile");
        assertTrue(backend.received().stream().noneMatch(e -> e.uri().equals("/v1/slow")), "the slow request reached the backend");
    }

    @Test
    void theSixthConnectionFromOneIpIsClosedAtOnceWhileTheFiveWork() throws Exception {
        start("    max_connections_per_ip: 5\n");
        List<RawHttpClient> five = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            RawHttpClient client = open();
            RawResponse response = client.get("/v1/conn-" + i).readResponse();
            assertEquals(200, response.status(), response::toString);
            five.add(client);
        }
        RawHttpClient sixth = open();
        assertRefusedWithoutAnswer(sixth, "the 6th connection from 127.0.0.1");
        assertEquals(1.0, refused("max_connections_per_ip"), "counted by its reason");
        assertEquals(0.0, refused("max_connections"));
        for (int i = 0; i < 5; i++) {
            RawResponse response = five.get(i).get("/v1/again-" + i).readResponse();
            assertEquals(200, response.status(), "connection " + i + " of the five: " + response);
        }
        // Once one of the five goes, a new connection is admitted (the count is released asynchronously).
        five.get(0).close();
        awaitAdmitted();
    }

    @Test
    void theTotalConnectionCapClosesConnectionsBeyondIt() throws Exception {
        start("    max_connections: 3\n");
        for (int i = 0; i < 3; i++) {
            RawResponse response = open().get("/v1/total-" + i).readResponse();
            assertEquals(200, response.status(), response::toString);
        }
        assertRefusedWithoutAnswer(open(), "the 4th connection with max_connections 3");
        assertEquals(1.0, refused("max_connections"), "counted by its reason");
        clients.get(0).close();
        awaitAdmitted();
    }

    @Test
    void aClientStallingMidBodyGets408AndTheUpstreamIsClosed() throws Exception {
        start("    body_idle_timeout: 1s\n");
        RawHttpClient client = open();
        client.send("POST /v1/upload HTTP/1.1\r\nHost: test.local\r\nContent-Length: 100\r\n\r\n" + "x".repeat(10));
        long start = System.nanoTime();
        RawResponse response = client.readResponse();
        double seconds = (System.nanoTime() - start) / 1e9;
        assertError(response, 408, "request_timeout");
        assertTrue(seconds >= 0.8 && seconds < 3.0, "408 after " + seconds + " s (body idle timeout 1 s)");
        assertTrue(client.awaitServerClose(2_000), "the connection must close after 408");
        if (!backend.received().isEmpty()) {
            BackendConnection upstream = backend.received().get(0).connection();
            try {
                upstream.closed().get(2, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                fail("the upstream connection of the abandoned upload stayed open: " + upstream);
            }
        }
    }

    /**
     * A slowloris that goes on trickling after its 408 is cut, not lingered with (nginx closes on 408 too): else it kept
     * its connection, and its IP's slot, up to lingering's 30 s longer than request_header_timeout allows.
     */
    @Test
    void aSlowlorisTricklingOnAfterIts408LosesItsConnection() throws Exception {
        start("    request_header_timeout: 1s\n    max_connections_per_ip: 1\n");
        RawHttpClient slow = open();
        CompletableFuture<Void> trickle = trickle(slow, "GET /v1/slow HTTP/1.1\r\nHost: test.local\r\nX-Padding: ");
        String answer = readUntilClosed(slow.socket(), 5_000);
        assertTrue(answer.isEmpty() || answer.startsWith("HTTP/1.1 408"), "a slowloris gets 408 or nothing: " + answer);
        awaitAdmitted(); // the slot is free again: the trickler's connection is gone, not merely half-closed
        trickle.get(5, TimeUnit.SECONDS); // its writes fail
    }

    /** The same for a client that stalled its body, got 408, and then resumes trickling it. */
    @Test
    void aBodyTricklingOnAfterIts408LosesItsConnection() throws Exception {
        start("    body_idle_timeout: 1s\n    max_connections_per_ip: 1\n");
        RawHttpClient client = open();
        client.send("POST /v1/upload HTTP/1.1\r\nHost: test.local\r\nContent-Length: 1000000\r\n\r\n" + "x".repeat(10));
        assertError(client.readResponse(), 408, "request_timeout");
        CompletableFuture<Void> trickle = trickle(client, "");
        assertTrue(client.awaitServerClose(2_000), "the connection must close after 408");
        awaitAdmitted();
        trickle.get(5, TimeUnit.SECONDS);
    }

    /** Writes {@code start}, then a byte every 200 ms, until a write fails (completes then) or 60 s have passed. */
    private static CompletableFuture<Void> trickle(RawHttpClient client, String start) {
        CompletableFuture<Void> cut = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                OutputStream out = client.socket().getOutputStream();
                out.write(start.getBytes(StandardCharsets.ISO_8859_1));
                for (int i = 0; i < 300; i++) {
                    out.write('p');
                    out.flush();
                    TimeUnit.MILLISECONDS.sleep(200);
                }
                cut.completeExceptionally(new AssertionError("the gateway took a trickle for 60 s"));
            } catch (IOException closed) {
                cut.complete(null);
            } catch (InterruptedException e) {
                cut.completeExceptionally(e);
            }
        }, "trickle");
        t.setDaemon(true);
        t.start();
        return cut;
    }

    @Test
    void aSlowButSteadyBodyIsNotCut() throws Exception {
        start("    body_idle_timeout: 1s\n");
        RawHttpClient client = open();
        client.send("POST /v1/steady HTTP/1.1\r\nHost: test.local\r\nContent-Length: 8\r\n\r\n");
        for (int i = 0; i < 8; i++) {
            TimeUnit.MILLISECONDS.sleep(400); // 3.2 s in all, never 1 s silent
            client.send("y");
        }
        RawResponse response = client.readResponse();
        assertEquals(200, response.status(), response::toString);
    }

    private void awaitAdmitted() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            try (RawHttpClient client = proxy.connect()) {
                RawResponse response = client.get("/v1/admitted").readResponse();
                assertEquals(200, response.status(), response::toString);
                return;
            } catch (IOException refused) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no connection admitted 5s after one was closed", refused);
                }
                TimeUnit.MILLISECONDS.sleep(50);
            }
        }
    }

    /** The proxy closes {@code client} without any response, even to a request. */
    private static void assertRefusedWithoutAnswer(RawHttpClient client, String what) throws IOException {
        try {
            client.get("/v1/refused");
        } catch (SocketException alreadyClosed) {
            return;
        }
        String answer = readUntilClosed(client.socket(), 2_000);
        assertEquals("", answer, what + " got an answer");
    }

    /** Everything the server sends until it closes (EOF or reset); fails if it is still open after {@code timeoutMs}. */
    private static String readUntilClosed(Socket socket, int timeoutMs) throws IOException {
        socket.setSoTimeout(100);
        InputStream in = socket.getInputStream();
        StringBuilder sb = new StringBuilder();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        byte[] buf = new byte[4096];
        while (true) {
            try {
                int n = in.read(buf);
                if (n < 0) {
                    return sb.toString();
                }
                sb.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
            } catch (SocketTimeoutException e) {
                // fall through to the deadline check
            } catch (SocketException reset) {
                return sb.toString();
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the server kept the connection open for " + timeoutMs + " ms; received: " + sb);
            }
        }
    }
}
