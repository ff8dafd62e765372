package io.streamgate.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The fixtures talk to each other directly, so a proxy test failure is not a fixture bug. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TestBackendSelfTest {

    @Test
    void answersAndRecordsRequestsWithBodyHash() throws Exception {
        try (TestBackend backend = TestBackend.answering("hello");
             RawHttpClient client = RawHttpClient.connect(backend.port())) {
            client.post("/a?x=1", "abc", "X-Test: 1");
            RawResponse response = client.readResponse();
            assertEquals(200, response.status());
            assertEquals("hello", response.bodyText());
            assertTrue(response.complete());

            BackendExchange exchange = backend.takeExchange();
            assertEquals("POST", exchange.method());
            assertEquals("/a?x=1", exchange.uri());
            assertEquals("1", exchange.headers().get("X-Test"));
            ReceivedBody body = exchange.awaitBody(5);
            assertEquals(3, body.length());
            assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", body.sha256());
            assertEquals("abc", body.text());
            assertEquals(1, backend.acceptedConnections());
        }
    }

    @Test
    void streamsUnderTestControlAndDiesMidStream() throws Exception {
        BlockingQueue<String> toSend = new LinkedBlockingQueue<>();
        try (TestBackend backend = TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/event-stream");
            for (String event = toSend.poll(5, TimeUnit.SECONDS); event != null && !event.equals("die");
                 event = toSend.poll(5, TimeUnit.SECONDS)) {
                ex.write("data: " + event + "\n\n");
            }
            ex.die();
        }).start(); RawHttpClient client = RawHttpClient.connect(backend.port())) {
            client.get("/stream");
            ResponseHead head = client.readHead();
            BodyStream body = client.openBody(head);
            for (int i = 0; i < 3; i++) {
                toSend.add("e" + i);
                assertEquals("data: e" + i, body.readEvent());
            }
            toSend.add("die");
            assertNull(body.readEvent());
            assertFalse(body.isComplete());
            assertTrue(body.connectionEnded());
            assertTrue(backend.failures().isEmpty(), () -> backend.failures().toString());
        }
    }

    @Test
    void closesIdleKeepAliveConnections() throws Exception {
        try (TestBackend backend = TestBackend.builder().closeIdleConnectionsAfter(Duration.ofMillis(200)).start();
             RawHttpClient client = RawHttpClient.connect(backend.port())) {
            client.get("/");
            assertEquals(200, client.readResponse().status());
            assertTrue(client.awaitServerClose(5_000));
            backend.connections().get(0).closed().get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void readsSlowlyButCompletely() throws Exception {
        byte[] data = new byte[256 * 1024];
        PatternBytes.fill(data, 0, data.length, 0);
        String expected = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(data));
        try (TestBackend backend = TestBackend.builder().readSlowly(16 * 1024, 1024 * 1024)
                .respond(ex -> ex.respond(200, "text/plain", ex.awaitBody(10).sha256())).start();
             RawHttpClient client = RawHttpClient.connect(backend.port())) {
            client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + data.length + "\r\n\r\n");
            client.send(data);
            RawResponse response = client.readResponse();
            assertEquals(expected, response.bodyText());
        }
    }
}
