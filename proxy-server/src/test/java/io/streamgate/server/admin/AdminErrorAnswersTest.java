package io.streamgate.server.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import java.net.SocketException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The errors the admin listener answers, over real sockets, all in the shape its 404 and 405 have: a JSON
 * {@code {"error":{"message":"…"}}}, never cached, framed by its length. A request over the listener's 64 KiB gets
 * {@code 413} so, and is an answered request like any other for the listener's clocks.
 */
@Timeout(30)
class AdminErrorAnswersTest {
    private static final int TOO_LARGE = 64 * 1024 + 1;

    @TempDir
    Path dir;
    private AdminWithDeadlines admin;

    @AfterEach
    void stop() throws Exception {
        if (admin != null) {
            admin.close();
        }
    }

    /** What every admin error answer looks like. */
    static void assertAdminError(int status, RawResponse response) {
        assertEquals(status, response.status(), response::toString);
        assertEquals("application/json", response.header("content-type"), response::toString);
        assertEquals("no-store", response.header("cache-control"), response::toString);
        assertEquals(String.valueOf(response.body().length), response.header("content-length"), response::toString);
        assertTrue(response.bodyText().matches("\\{\"error\":\\{\"message\":\"[^\"]+\"}}"), response::toString);
    }

    @Test
    void aBodyAnnouncedTooLargeGets413LikeA404AndTheConnectionGoesOn() throws Exception {
        start("10s", "10s");
        try (RawHttpClient client = RawHttpClient.connect(admin.port())) {
            assertAdminError(404, client.get("/nothing-here").readResponse());
            client.send(head("Content-Length: " + TOO_LARGE)).send(new byte[TOO_LARGE]);
            RawResponse refused = client.readResponse();
            assertAdminError(413, refused);
            assertNull(refused.header("connection"), "the body had a length: the connection can go on");
            assertEquals(200, client.get("/healthz").readResponse().status());
        }
    }

    /** The refused body still arriving after the 413 is that request's, not a new one that is slow to come. */
    @Test
    void theRestOfARefusedBodyIsNotTimedAsANewRequest() throws Exception {
        start("10s", "500ms");
        try (RawHttpClient client = RawHttpClient.connect(admin.port())) {
            client.send(head("Content-Length: " + TOO_LARGE)).send(new byte[1000]);
            assertAdminError(413, client.readResponse());
            Thread.sleep(100);
            client.send(new byte[TOO_LARGE - 1000]);
            assertFalse(client.awaitServerClose(1_500), "answered 408 and closed: the rest of the body was timed");
            assertEquals(200, client.get("/healthz").readResponse().status());
        }
    }

    @Test
    void aBodyTooLargeForExpectContinueGets413InsteadOf100() throws Exception {
        start("10s", "10s");
        try (RawHttpClient client = RawHttpClient.connect(admin.port())) {
            client.send(head("Content-Length: " + TOO_LARGE, "Expect: 100-continue"));
            assertAdminError(413, client.readResponse());
        }
    }

    /** Found too large on the way in: there is no reading past the rest of it, so the connection ends. */
    @Test
    void aChunkedBodyThatGrowsTooLargeGets413AndTheConnectionIsClosed() throws Exception {
        start("10s", "10s");
        try (RawHttpClient client = RawHttpClient.connect(admin.port())) {
            String chunk = Integer.toHexString(8192) + "\r\n" + "x".repeat(8192) + "\r\n";
            try {
                client.send(head("Transfer-Encoding: chunked") + chunk.repeat(9) + "0\r\n\r\n");
            } catch (SocketException e) {
                // closed while sending: the 413 is still there to read
            }
            RawResponse refused = client.readResponse();
            assertAdminError(413, refused);
            assertEquals("close", refused.header("connection"));
            assertTrue(client.awaitServerClose(5_000), "still open after the 413");
        }
    }

    /** The admin decoder's limits (4 KiB request line, 8 KiB of headers) refused as the main listener refuses them. */
    @Test
    void aRequestLineOrHeaderBlockTooLargeGets414Or431AndTheConnectionIsClosed() throws Exception {
        start("10s", "10s");
        try (RawHttpClient client = RawHttpClient.connect(admin.port())) {
            client.send("GET /healthz?" + "q".repeat(5000) + " HTTP/1.1\r\nHost: admin\r\n\r\n");
            RawResponse refused = client.readResponse();
            assertAdminError(414, refused);
            assertEquals("close", refused.header("connection"));
            assertTrue(client.awaitServerClose(5_000), "still open after the 414");
        }
        try (RawHttpClient client = RawHttpClient.connect(admin.port())) {
            client.send("GET /healthz HTTP/1.1\r\nHost: admin\r\nX-Big: " + "h".repeat(9000) + "\r\n\r\n");
            RawResponse refused = client.readResponse();
            assertAdminError(431, refused);
            assertEquals("close", refused.header("connection"));
            assertTrue(client.awaitServerClose(5_000), "still open after the 431");
        }
    }

    /** The head of a POST to an admin endpoint with {@code headerLines}. */
    private static String head(String... headerLines) {
        return "POST /admin/reload HTTP/1.1\r\nHost: admin\r\n" + String.join("\r\n", headerLines) + "\r\n\r\n";
    }

    private void start(String idle, String header) throws Exception {
        admin = AdminWithDeadlines.start(dir, idle, header);
    }
}
