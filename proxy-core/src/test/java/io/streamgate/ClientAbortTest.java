package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client that leaves before any response byte: the backend connection is closed at once (vLLM aborts the
 * generation when its socket closes) and the access log records 499.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ClientAbortTest {
    /** 499 as a field of an access log line, whatever its format (combined, key=value or JSON). */
    private static final Pattern STATUS_499 = Pattern.compile("(^|[\\s\":=])499([\\s,}]|$)");

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(Responders.silent()).start();
        proxy = RunningProxy.forwardingTo(backend);
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    @Test
    void clientClosingWhileWaitingForTheResponseClosesTheBackendConnection() throws Exception {
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            BackendConnection upstream;
            try (RawHttpClient client = proxy.connect()) {
                client.get("/v1/slow", "X-Request-Id: abort-waiting");
                upstream = backend.takeExchange().connection();
            }
            assertClosedWithin2s(upstream);
            assertAccessLogged499(accessLog, "abort-waiting");
        }
    }

    @Test
    void clientClosingWhileUploadingTheBodyClosesTheBackendConnection() throws Exception {
        try (AccessLogCapture accessLog = AccessLogCapture.capture()) {
            BackendConnection upstream;
            try (RawHttpClient client = proxy.connect()) {
                client.send("POST /v1/upload HTTP/1.1\r\nHost: test.local\r\nX-Request-Id: abort-uploading\r\n"
                        + "Content-Length: 1000\r\n\r\n" + "x".repeat(100));
                upstream = backend.takeExchange().connection();
            }
            assertClosedWithin2s(upstream);
            assertAccessLogged499(accessLog, "abort-uploading");
        }
    }

    private static void assertClosedWithin2s(BackendConnection upstream) throws Exception {
        try {
            upstream.closed().get(2, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("the proxy kept the backend connection of an abandoned request open: " + upstream);
        }
    }

    private static void assertAccessLogged499(AccessLogCapture accessLog, String requestId) throws InterruptedException {
        String line = accessLog.awaitLine(l -> l.contains(requestId), 2_000);
        assertNotNull(line, () -> "no access log line for " + requestId + "; lines: " + accessLog.lines());
        assertTrue(STATUS_499.matcher(line).find(), "the access log must record status 499 for a client that left: " + line);
    }
}
