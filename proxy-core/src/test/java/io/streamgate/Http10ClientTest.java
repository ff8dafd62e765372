package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BodyStream;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * HTTP/1.0 clients know no chunked encoding and close after each response unless they asked for keep-alive: a
 * streamed body must reach them delimited by the connection's close, a sized one with its Content-Length.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class Http10ClientTest {
    private static final String STREAMED = "part1 part2 part3";
    private static final String FIXED = "fixed body";

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            ex.awaitBody(10);
            if (ex.uri().equals("/stream")) {
                ex.startChunked(200, "text/plain");
                ex.write("part1 ");
                ex.write("part2 ");
                ex.write("part3");
                ex.end();
            } else {
                ex.respond(200, "text/plain", FIXED);
            }
        }).start();
        proxy = RunningProxy.forwardingTo(backend);
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    @Test
    void aStreamedBodyIsDelimitedByCloseNotChunked() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.send("GET /stream HTTP/1.0\r\nHost: test.local\r\n\r\n");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            assertNull(head.header("transfer-encoding"), () -> "HTTP/1.0 has no chunked encoding: " + head.headers());
            assertNull(head.header("content-length"), () -> "the proxy cannot know the length: " + head.headers());
            BodyStream body = client.openBody(head);
            assertEquals(STREAMED, new String(body.readAllBytes(), StandardCharsets.UTF_8));
            assertTrue(body.isComplete(), "the body must end with the connection's close");
        }
    }

    @Test
    void withoutKeepAliveASizedBodyKeepsItsLengthAndTheConnectionCloses() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.send("GET /fixed HTTP/1.0\r\nHost: test.local\r\n\r\n");
            RawResponse response = client.readResponse();
            assertEquals(200, response.status(), response::toString);
            assertNull(response.header("transfer-encoding"), response::toString);
            assertEquals(String.valueOf(FIXED.length()), response.header("content-length"), response::toString);
            assertEquals(FIXED, response.bodyText());
            assertTrue(client.awaitServerClose(2_000), "an HTTP/1.0 connection without keep-alive must be closed");
        }
    }

    @Test
    void withKeepAliveAndASizedBodyTheConnectionServesASecondRequest() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 1; i <= 2; i++) {
                int n = i;
                client.send("GET /fixed HTTP/1.0\r\nHost: test.local\r\nConnection: keep-alive\r\n\r\n");
                RawResponse response = client.readResponse();
                assertEquals(200, response.status(), response::toString);
                assertEquals(FIXED, response.bodyText());
                assertEquals(String.valueOf(FIXED.length()), response.header("content-length"), response::toString);
                String connection = response.header("connection");
                // An HTTP/1.0 client assumes close unless the response says keep-alive.
                assertNotNull(connection, () -> "request " + n + ": no Connection header on " + response);
                assertEquals("keep-alive", connection.toLowerCase(), response::toString);
            }
        }
        assertEquals(2, backend.received().size());
    }

    @Test
    void withKeepAliveAStreamedBodyStillEndsWithTheClose() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.send("GET /stream HTTP/1.0\r\nHost: test.local\r\nConnection: keep-alive\r\n\r\n");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            assertNull(head.header("transfer-encoding"), () -> "HTTP/1.0 has no chunked encoding: " + head.headers());
            assertNull(head.header("content-length"), head.headers()::toString);
            BodyStream body = client.openBody(head);
            assertEquals(STREAMED, new String(body.readAllBytes(), StandardCharsets.UTF_8));
            assertTrue(body.isComplete(), "the body must end with the connection's close");
        }
    }
}
