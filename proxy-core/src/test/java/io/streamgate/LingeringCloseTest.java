package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import io.streamgate.testing.HttpClients;
import io.streamgate.testing.Json;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import io.streamgate.testing.TlsSockets;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An HTTP/1.1 answer sent before the request body was read (a 413 for a declared length, a backend answering early)
 * reaches a client that is still sending that body: the gateway half-closes and reads what still comes instead of
 * resetting the connection under the answer (nginx's lingering_close). A client that never stops is cut after a bound.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LingeringCloseTest {
    private static final long DECLARED = 50_000_000;
    /** More than loopback's socket buffers take without a reader: a gateway that closed at once has reset by then. */
    private static final long SENT_BEFORE_READING = 2 * 1024 * 1024;
    private static final int EARLY_ANSWER_BYTES = 512 * 1024;

    private TestBackend backend;
    private RunningProxy proxy;

    private void start(String transport, TestBackend.Builder backendBuilder) throws Exception {
        backend = backendBuilder.start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  transport: %s
                routes:
                  - path_prefix: /small/
                    upstream: backend
                    max_body_size: 1KiB
                  - path_prefix: /
                    upstream: backend
                upstreams:
                  backend:
                    endpoints: ["%s"]
                """.formatted(transport, backend.url()));
    }

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"nio", "epoll", "io_uring"})
    void clientStillSendingItsBodyReadsThe413AndACleanEnd(String transport) throws Exception {
        assumeTrue(!transport.equals("epoll") || Epoll.isAvailable(), "epoll is not available here");
        assumeTrue(!transport.equals("io_uring") || IoUring.isAvailable(), "io_uring is not available here");
        start(transport, TestBackend.builder());
        try (RawHttpClient client = proxy.connect()) {
            client.send("POST /small/files HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + DECLARED + "\r\n\r\n");
            BodyWriter writer = BodyWriter.start(client, DECLARED);
            // Reads only once much of the body is out (or the gateway refused it): the answer has long been sent.
            writer.awaitSentOrFailed(SENT_BEFORE_READING);
            assertError(client.readResponse(), 413, "body_too_large");
            // The end of the stream after the answer, not a reset (which some clients' stacks let destroy the answer).
            assertEquals(-1, client.socket().getInputStream().read(), "bytes after the answer");
            // Nor does a reset break the upload (curl's "Send failure", the JDK's IOException) before the client could
            // notice the answer: the gateway takes the body until it has had enough, then merely stops reading.
            writer.awaitStalledOrFailed();
            assertFalse(writer.failed.isDone(), () -> "the upload failed after " + writer.sent.get() + " bytes: "
                    + writer.failed.join());
        }
        assertEquals(0, backend.received().size());
    }

    /** Over TLS the TCP output stays open under the TLS session; the client still reads the 413 while uploading. */
    @Test
    void tlsClientStillSendingItsBodyReadsThe413() throws Exception {
        try (TestCertificates certs = TestCertificates.create()) {
            backend = TestBackend.builder().start();
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
                        max_body_size: 1KiB
                    """.formatted(certs.rsa("localhost").yamlItem(6), backend.url()));
            try (SSLSocket socket = TlsSockets.to(proxy.port()).context(HttpClients.sslContext(certs, null)).sni("localhost")
                    .handshake();
                 RawHttpClient client = RawHttpClient.over(socket)) {
                client.send("POST /v1/files HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + DECLARED + "\r\n\r\n");
                BodyWriter writer = BodyWriter.start(client, DECLARED);
                writer.awaitSentOrFailed(SENT_BEFORE_READING);
                assertError(client.readResponse(), 413, "body_too_large");
                writer.awaitStalledOrFailed();
                assertFalse(writer.failed.isDone(), () -> "the upload failed after " + writer.sent.get() + " bytes: "
                        + writer.failed.join());
            }
        }
    }

    /**
     * A backend's early answer larger than the client's receive window: its tail still sits in the gateway's socket
     * buffer when its write completes, and a close with the client's body unread there would discard it with a reset.
     */
    @Test
    void earlyAnswerLargerThanTheClientWindowArrivesWhole() throws Exception {
        byte[] answer = new byte[EARLY_ANSWER_BYTES];
        // The backend takes the body slowly and answers at once: the client's body backs up into the gateway.
        start("nio", TestBackend.builder().readSlowly(16 * 1024, 64 * 1024)
                .respond(ex -> ex.respond(401, "application/octet-stream", answer)));
        Socket socket = new Socket();
        socket.setReceiveBufferSize(8 * 1024);
        socket.connect(new InetSocketAddress("127.0.0.1", proxy.port()), 5_000);
        try (RawHttpClient client = RawHttpClient.over(socket)) {
            client.send("POST /v1/files HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + DECLARED + "\r\n\r\n");
            BodyWriter writer = BodyWriter.start(client, DECLARED);
            writer.awaitStalledOrFailed();
            RawResponse response = client.readResponse();
            assertEquals(401, response.status(), response::toString);
            assertTrue(response.complete(), () -> response.body().length + " of " + EARLY_ANSWER_BYTES + " bytes arrived");
            assertEquals(EARLY_ANSWER_BYTES, response.body().length);
        }
    }

    /**
     * The JDK's client, whose body (over the 8 MiB the gateway reads while lingering) outruns the refusal by far: it
     * reads the answer while it sends, so stopping reading at that bound does not cost it the answer. (On Linux
     * loopback the immediate close did not make this client fail either.)
     */
    @Test
    void jdkHttpClientGetsThe413ForALargeUpload() throws Exception {
        start("nio", TestBackend.builder());
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        byte[] body = new byte[32 * 1024 * 1024];
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + "/small/files"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(413, response.statusCode(), response::body);
        Map<?, ?> error = (Map<?, ?>) ((Map<?, ?>) Json.parse(response.body())).get("error");
        assertEquals("body_too_large", error.get("code"), response::body);
    }

    @Test
    void clientThatNeverStopsSendingIsCut() throws Exception {
        start("nio", TestBackend.builder());
        try (RawHttpClient client = proxy.connect()) {
            client.send("POST /small/files HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + Long.MAX_VALUE / 2 + "\r\n\r\n");
            BodyWriter writer = BodyWriter.start(client, Long.MAX_VALUE);
            assertError(client.readResponse(), 413, "body_too_large");
            // The answer read, the client goes on sending regardless: the gateway stops reading, then closes.
            assertTrue(writer.failed.get(50, TimeUnit.SECONDS) instanceof IOException,
                    "the gateway kept the connection of a client that never stops");
            assertTrue(writer.sent.get() < 1024L * 1024 * 1024, () -> writer.sent.get() + " bytes were taken in");
        }
    }

    /** Writes a body in its own thread until {@code size} bytes are out or the connection fails. */
    private static final class BodyWriter {
        final AtomicLong sent = new AtomicLong();
        final CompletableFuture<Throwable> failed = new CompletableFuture<>();

        static BodyWriter start(RawHttpClient client, long size) {
            BodyWriter w = new BodyWriter();
            Thread t = new Thread(() -> {
                byte[] piece = new byte[64 * 1024];
                try {
                    OutputStream out = client.socket().getOutputStream();
                    while (w.sent.get() < size) {
                        int n = (int) Math.min(piece.length, size - w.sent.get());
                        out.write(piece, 0, n);
                        w.sent.addAndGet(n);
                    }
                    w.failed.complete(null);
                } catch (IOException e) {
                    w.failed.complete(e);
                }
            }, "body-writer");
            t.setDaemon(true);
            t.start();
            return w;
        }

        void awaitSentOrFailed(long bytes) throws InterruptedException {
            while (sent.get() < bytes && !failed.isDone()) {
                Thread.sleep(5);
            }
        }

        /** Until the gateway takes no more of the body (all buffers full) or refused it. */
        void awaitStalledOrFailed() throws InterruptedException {
            long seen = -1;
            while (!failed.isDone() && sent.get() != seen) {
                seen = sent.get();
                Thread.sleep(500);
            }
        }
    }
}
