package io.streamgate.server.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import java.net.SocketException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin listener holds its clients to the public listener's {@code client_idle_timeout} and
 * {@code request_header_timeout}, over real sockets: a silent connection and one idle after its answer are closed, a
 * request trickled in (slowloris) gets 408 and is closed, and a client that keeps sending requests stays.
 */
@Timeout(30)
class AdminTimeoutsTest {
    @TempDir
    Path dir;
    private AdminWithDeadlines admin;

    @AfterEach
    void stop() throws Exception {
        if (admin != null) {
            admin.close();
        }
    }

    @Test
    void aConnectionThatSendsNothingIsClosedAfterTheIdleTimeout() throws Exception {
        start("300ms", "10s");
        try (RawHttpClient client = RawHttpClient.connect(admin.port())) {
            long start = System.nanoTime();
            assertTrue(client.awaitServerClose(5_000), "still open after 5 s");
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(250), "closed before the timeout");
        }
    }

    @Test
    void aKeepAliveConnectionIsClosedOnceIdleAfterItsAnswers() throws Exception {
        start("500ms", "10s");
        try (RawHttpClient client = RawHttpClient.connect(admin.port())) {
            for (int i = 0; i < 4; i++) { // 4 × 200 ms: requests keep the connection open past one idle timeout
                assertEquals(200, client.get("/healthz").readResponse().status());
                Thread.sleep(200);
            }
            assertTrue(client.awaitServerClose(5_000), "still open 5 s after the last answer");
        }
    }

    @Test
    void aRequestTrickledInGets408AndTheConnectionIsClosed() throws Exception {
        start("10s", "500ms");
        try (RawHttpClient client = RawHttpClient.connect(admin.port())) {
            client.send("GET /healthz HTTP/1.1\r\nHost: admin\r\n");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            try {
                while (System.nanoTime() < deadline && client.socket().getInputStream().available() == 0) {
                    client.send("X-Slow: 1\r\n"); // a header line every 100 ms: never idle, never done
                    Thread.sleep(100);
                }
            } catch (SocketException e) {
                // closed while sending: the 408 is still there to read
            }
            RawResponse response = client.readResponse();
            AdminErrorAnswersTest.assertAdminError(408, response);
            assertEquals("close", response.header("connection"));
            assertTrue(client.awaitServerClose(5_000), "still open after the 408");
        }
    }

    @Test
    void aRequestThatArrivesInTimeIsAnswered() throws Exception {
        start("10s", "1s");
        try (RawHttpClient client = RawHttpClient.connect(admin.port())) {
            client.send("GET /healthz HTTP/1.1\r\n");
            Thread.sleep(300);
            client.send("Host: admin\r\n\r\n");
            assertEquals(200, client.readResponse().status());
            assertFalse(client.awaitServerClose(1_200), "closed well within client_idle_timeout");
        }
    }

    private void start(String idle, String header) throws Exception {
        admin = AdminWithDeadlines.start(dir, idle, header);
    }
}
