package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BodyStream;
import io.streamgate.testing.DirectMemorySampler;
import io.streamgate.testing.PatternBytes;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ReceivedBody;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Large bodies stream through intact while the slow side sets the pace: the proxy stops reading from the fast
 * side instead of buffering, so its direct memory stays far below the body size.
 */
// A separate thread, so a test stuck in a blocking socket write (a proxy that stopped reading) still times out.
@Timeout(value = 90, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class LargeBodyBackpressureTest {
    private static final long MIB = 1024 * 1024;
    private static final long MEMORY_BOUND = 32 * MIB;

    private static final String CONFIG = """
            server:
              listen: "127.0.0.1:0"
              limits:
                max_body_size: 1GiB
            upstreams:
              backend:
                endpoints: ["%s"]
            routes:
              - path_prefix: /
                upstream: backend
            """;

    private TestBackend backend;
    private RunningProxy proxy;
    private RawHttpClient client;

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    /** The client sends 100 MiB as fast as it can; the backend reads 32 KiB at a time at about 25 MiB/s. */
    @Test
    void uploadToASlowBackendIsIntactAndMemoryStaysBounded() throws Exception {
        long size = 100 * MIB;
        backend = TestBackend.builder()
                .readSlowly(32 * 1024, 25 * MIB)
                .respond(ex -> {
                    ReceivedBody body = ex.awaitBody(80);
                    ex.respond(200, "text/plain", body.length() + " " + body.sha256());
                }).start();
        proxy = RunningProxy.start(CONFIG.formatted(backend.url()));
        client = proxy.connect();
        try (DirectMemorySampler memory = DirectMemorySampler.start(5)) {
            client.send("POST /v1/files HTTP/1.1\r\nHost: test.local\r\nContent-Type: application/octet-stream\r\n"
                    + "Content-Length: " + size + "\r\n\r\n");
            MessageDigest sent = MessageDigest.getInstance("SHA-256");
            OutputStream out = client.socket().getOutputStream();
            byte[] piece = new byte[64 * 1024];
            for (long position = 0; position < size; position += piece.length) {
                PatternBytes.fill(piece, 0, piece.length, position);
                sent.update(piece);
                out.write(piece);
            }
            out.flush();

            RawResponse response = client.readResponse();
            memory.close();
            assertEquals(200, response.status(), response::toString);
            assertEquals(size + " " + HexFormat.of().formatHex(sent.digest()), response.bodyText(), "upload arrived altered");
            assertBounded(memory);
        }
    }

    /**
     * The backend sends 200 MiB as fast as the proxy takes it; the client stalls twice for 500 ms and otherwise
     * reads 16 KiB at a time at about 20 MiB/s.
     */
    @Test
    void downloadToASlowClientIsIntactAndMemoryStaysBounded() throws Exception {
        long size = 200 * MIB;
        CompletableFuture<String> backendSent = new CompletableFuture<>();
        backend = TestBackend.builder().respond(ex -> {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            ex.startFixed(200, "application/octet-stream", size);
            byte[] piece = new byte[64 * 1024];
            for (long position = 0; position < size; position += piece.length) {
                PatternBytes.fill(piece, 0, piece.length, position);
                digest.update(piece);
                ex.write(piece, 0, piece.length);
            }
            ex.end();
            backendSent.complete(HexFormat.of().formatHex(digest.digest()));
        }).start();
        proxy = RunningProxy.start(CONFIG.formatted(backend.url()));
        client = proxy.connect();
        try (DirectMemorySampler memory = DirectMemorySampler.start(5)) {
            client.socket().setReceiveBufferSize(64 * 1024);
            client.get("/v1/files/big");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            assertEquals(size, head.contentLength());

            MessageDigest received = MessageDigest.getInstance("SHA-256");
            BodyStream body = client.openBody(head);
            byte[] buf = new byte[16 * 1024];
            long total = 0;
            long start = System.nanoTime();
            long pausedNanos = 0;
            for (int n = body.read(buf); n >= 0; n = body.read(buf)) {
                received.update(buf, 0, n);
                long before = total;
                total += n;
                if (before == 0 || before < size / 2 && total >= size / 2) {
                    // Stall: a proxy without backpressure would now pull the backend's data into memory.
                    Thread.sleep(500);
                    pausedNanos += TimeUnit.MILLISECONDS.toNanos(500);
                }
                long dueNanos = start + pausedNanos + total * 1_000_000_000L / (20 * MIB);
                long aheadMillis = TimeUnit.NANOSECONDS.toMillis(dueNanos - System.nanoTime());
                if (aheadMillis > 0) {
                    Thread.sleep(aheadMillis);
                }
            }
            memory.close();
            assertTrue(body.isComplete(), "download ended early after " + total + " bytes");
            assertEquals(size, total);
            assertEquals(backendSent.get(10, TimeUnit.SECONDS), HexFormat.of().formatHex(received.digest()), "download arrived altered");
            assertBounded(memory);
        }
    }

    private static void assertBounded(DirectMemorySampler memory) {
        assertTrue(memory.nettyGrowth() < MEMORY_BOUND && memory.processGrowth() < MEMORY_BOUND,
                "direct memory grew by more than 32 MiB: " + memory.describe());
    }
}
