package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.PatternBytes;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Oversize and ambiguous requests are refused with JSON errors and never reach the backend. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RequestLimitsTest {
    private static final int BODY_LIMIT = 1024 * 1024;

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            var body = ex.awaitBody(20);
            ex.respond(200, "text/plain", body.length() + " " + body.sha256());
        }).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  limits:
                    max_request_line: 1KiB
                    max_header_size: 2KiB
                    max_headers: 20
                    max_body_size: 1MiB
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(backend.url()));
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

    private RawResponse exchange(String rawRequest) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.send(rawRequest).readResponse();
        }
    }

    private void assertBackendUntouched() {
        assertEquals(0, backend.received().size(), () -> "the backend received " + backend.received().size() + " request(s)");
    }

    @Test
    void tooLongRequestLineIs414() throws Exception {
        String target = "/v1/" + "a".repeat(2000);
        assertError(exchange(RawHttpClient.request("GET", target, null)), 414, "request_line_too_long");
        assertBackendUntouched();
    }

    @Test
    void tooLargeHeaderBlockIs431() throws Exception {
        assertError(exchange(RawHttpClient.request("GET", "/v1/models", null, "X-Big: " + "b".repeat(3000))),
                431, "headers_too_large");
        assertBackendUntouched();
    }

    @Test
    void tooManyHeadersIs431() throws Exception {
        String[] headers = new String[30];
        for (int i = 0; i < headers.length; i++) {
            headers[i] = "X-H" + i + ": " + i;
        }
        assertError(exchange(RawHttpClient.request("GET", "/v1/models", null, headers)), 431, "headers_too_large");
        assertBackendUntouched();
    }

    @Test
    void declaredContentLengthAboveTheLimitIs413() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.send("POST /v1/files HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + (2 * BODY_LIMIT) + "\r\n\r\n");
            Thread writer = writeInBackground(client, 2 * BODY_LIMIT, false);
            assertError(client.readResponse(), 413, "body_too_large");
            writer.interrupt();
        }
        assertBackendUntouched();
    }

    @Test
    void chunkedBodyGrowingAboveTheLimitIs413() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.send("POST /v1/files HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n");
            Thread writer = writeInBackground(client, 2 * BODY_LIMIT, true);
            assertError(client.readResponse(), 413, "body_too_large");
            writer.interrupt();
        }
    }

    @Test
    void bodyOfExactlyTheLimitPasses() throws Exception {
        byte[] body = new byte[BODY_LIMIT];
        PatternBytes.fill(body, 0, body.length, 0);
        try (RawHttpClient client = proxy.connect()) {
            client.send("POST /v1/files HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + body.length + "\r\n\r\n");
            client.send(body);
            RawResponse response = client.readResponse();
            assertEquals(200, response.status(), response::toString);
            String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
            assertEquals(body.length + " " + sha, response.bodyText());
        }
    }

    @Test
    void contentLengthTogetherWithTransferEncodingIs400() throws Exception {
        RawResponse response = exchange("POST /v1/completions HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        assertError(response, 400, "bad_request");
        assertBackendUntouched();
    }

    /** Streams {@code size} bytes of body, until done or the proxy closes the connection. */
    private static Thread writeInBackground(RawHttpClient client, int size, boolean chunked) {
        Thread writer = new Thread(() -> {
            byte[] piece = new byte[16 * 1024];
            try {
                OutputStream out = client.socket().getOutputStream();
                for (int sent = 0; sent < size && !Thread.currentThread().isInterrupted(); sent += piece.length) {
                    PatternBytes.fill(piece, 0, piece.length, sent);
                    if (chunked) {
                        out.write((Integer.toHexString(piece.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                    }
                    out.write(piece);
                    if (chunked) {
                        out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    }
                }
                if (chunked) {
                    out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                }
                out.flush();
            } catch (IOException expected) {
                // The proxy refused the body and closed the connection.
            }
        }, "body-writer");
        writer.setDaemon(true);
        writer.start();
        return writer;
    }
}
