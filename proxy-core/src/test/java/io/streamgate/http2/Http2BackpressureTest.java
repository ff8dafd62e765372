package io.streamgate.http2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.DirectMemorySampler;
import io.streamgate.testing.HttpClients;
import io.streamgate.testing.PatternBytes;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A 50 MiB download over HTTP/2 to a slow reader: per-stream flow control must make the proxy stop reading
 * from the backend (as for HTTP/1.1), so its direct memory stays far below the body size. The client (OkHttp)
 * buffers on the heap, with a 16 MiB stream window; a proxy that buffered the rest would grow by ~34 MiB.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class Http2BackpressureTest {
    private static final long MIB = 1024 * 1024;
    private static final long SIZE = 50 * MIB;
    private static final long MEMORY_BOUND = 24 * MIB;

    private TestCertificates certs;
    private TestBackend backend;
    private RunningProxy proxy;
    private OkHttpClient client;

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.dispatcher().executorService().shutdownNow();
            client.connectionPool().evictAll();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
        if (certs != null) {
            certs.close();
        }
    }

    @Test
    void downloadToASlowH2ClientIsIntactAndMemoryStaysBounded() throws Exception {
        certs = TestCertificates.create();
        CompletableFuture<String> backendSent = new CompletableFuture<>();
        backend = TestBackend.builder().respond(ex -> {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            ex.startFixed(200, "application/octet-stream", SIZE);
            byte[] piece = new byte[64 * 1024];
            for (long position = 0; position < SIZE; position += piece.length) {
                PatternBytes.fill(piece, 0, piece.length, position);
                digest.update(piece);
                ex.write(piece, 0, piece.length);
            }
            ex.end();
            backendSent.complete(HexFormat.of().formatHex(digest.digest()));
        }).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  tls:
                    certificates:
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(certs.rsa("localhost").yamlItem(6), backend.url()));
        client = HttpClients.okHttp(certs);

        try (DirectMemorySampler memory = DirectMemorySampler.start(5);
             Response response = client.newCall(new Request.Builder()
                     .url("https://localhost:" + proxy.port() + "/v1/files/big").build()).execute()) {
            assertEquals(200, response.code());
            assertEquals(okhttp3.Protocol.HTTP_2, response.protocol());
            MessageDigest received = MessageDigest.getInstance("SHA-256");
            InputStream body = response.body().byteStream();
            byte[] buf = new byte[16 * 1024];
            long total = 0;
            long start = System.nanoTime();
            long pausedNanos = 0;
            for (int n = body.read(buf); n >= 0; n = body.read(buf)) {
                received.update(buf, 0, n);
                long before = total;
                total += n;
                if (before == 0 || before < SIZE / 2 && total >= SIZE / 2) {
                    // Stall: a proxy ignoring the client's flow-control window would now pull the backend's data in.
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
            assertEquals(SIZE, total, "download ended early");
            assertEquals(backendSent.get(10, TimeUnit.SECONDS), HexFormat.of().formatHex(received.digest()), "download arrived altered");
            assertTrue(memory.nettyGrowth() < MEMORY_BOUND && memory.processGrowth() < MEMORY_BOUND,
                    "direct memory grew by more than 24 MiB: " + memory.describe());
        }
    }
}
