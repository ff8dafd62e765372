package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.BodyStream;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * sse_heartbeat sends a comment line into a quiet event stream, but only between events: a comment inside an
 * event would corrupt it. The backend sends one event, stays silent 1.6 s (heartbeats due), sends half of the
 * next event, stays silent 1.2 s (heartbeats due but forbidden), then the rest.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SseHeartbeatTest {
    private static final String FIRST = "data: one\n\n";
    private static final String SECOND = "data: two\n\n";

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/event-stream", "Cache-Control", "no-cache");
            ex.write(FIRST);
            if (closedWithin(ex, 1_600)) {
                return;
            }
            ex.write("data: tw");
            if (closedWithin(ex, 1_200)) {
                return;
            }
            ex.write("o\n\n");
            ex.end();
        }).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /heartbeat
                    upstream: backend
                    sse_heartbeat: 500ms
                  - path_prefix: /plain
                    upstream: backend
                """.formatted(backend.url()));
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    @Test
    void commentLinesFillTheSilenceBetweenEventsOnly() throws Exception {
        String body = streamBody("/heartbeat/v1/chat/completions");
        assertTrue(body.startsWith(FIRST), () -> "stream: " + quoted(body));
        assertTrue(body.endsWith(SECOND), () -> "the second event was split or altered: " + quoted(body));
        String between = body.substring(FIRST.length(), body.length() - SECOND.length());
        int comments = 0;
        for (String line : between.split("\n", -1)) {
            assertTrue(line.isEmpty() || line.startsWith(":"), () -> "only comment lines may come between events: " + quoted(body));
            comments += line.startsWith(":") ? 1 : 0;
        }
        assertTrue(comments >= 1, () -> "no heartbeat in 1.6 s of silence with sse_heartbeat 500ms: " + quoted(body));
    }

    @Test
    void heartbeatsCountInTheBytesSentThatTheAccessLogRecords() throws Exception {
        try (AccessLogCapture log = AccessLogCapture.capture()) {
            String body = streamBody("/heartbeat/v1/chat/completions", "X-Request-Id: heartbeat-bytes");
            assertTrue(body.length() > (FIRST + SECOND).length(), () -> "no heartbeat was sent: " + quoted(body));
            String line = log.awaitLine(l -> l.contains("rid=heartbeat-bytes"), 5_000);
            assertNotNull(line, () -> "no access log line: " + log.lines());
            Matcher statusAndBytes = Pattern.compile("\" 200 (\\d+) \"").matcher(line);
            assertTrue(statusAndBytes.find(), line);
            assertEquals(body.getBytes(StandardCharsets.UTF_8).length, Long.parseLong(statusAndBytes.group(1)),
                    () -> "bytes sent should be every body byte the client got, heartbeats included: " + line);
        }
    }

    @Test
    void withoutHeartbeatTheStreamIsRelayedUnchanged() throws Exception {
        String body = streamBody("/plain/v1/chat/completions");
        assertEquals(FIRST + SECOND, body, () -> "stream: " + quoted(body));
    }

    private String streamBody(String path, String... headers) throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            client.get(path, headers);
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            BodyStream body = client.openBody(head);
            String text = new String(body.readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(body.isComplete(), "the stream must end with its terminating chunk");
            return text;
        }
    }

    private static boolean closedWithin(BackendExchange ex, long millis) throws Exception {
        try {
            ex.connection().closed().get(millis, TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException stillOpen) {
            return false;
        }
    }

    private static String quoted(String s) {
        return "\"" + s.replace("\n", "\\n") + "\"";
    }
}
