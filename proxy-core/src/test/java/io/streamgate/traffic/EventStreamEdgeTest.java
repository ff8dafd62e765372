package io.streamgate.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.Closer;
import io.streamgate.testing.RawBackend;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Event streams the gateway cannot read (compressed) or that end badly, from a backend that writes raw bytes: no usage
 * chunk the gateway asked for leaks to a client that did not, no heartbeat goes into compressed bytes or is missed at
 * a CRLF boundary, and a stream cut inside an event is not cached as a whole response.
 */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class EventStreamEdgeTest {
    private static final String CONTENT =
            "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";
    private static final String USAGE = "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}\n\n";
    private static final String DONE = "data: [DONE]\n\n";
    private static final String CHAT = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    private RunningProxy proxy(RawBackend backend, String routeSettings) throws Exception {
        return closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  llm:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /v1
                    upstream: llm
                    %s
                """.formatted(backend.url(), routeSettings)));
    }

    private static RawResponse postChat(RunningProxy proxy, String... headerLines) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            String[] all = new String[headerLines.length + 1];
            all[0] = "Content-Type: application/json";
            System.arraycopy(headerLines, 0, all, 1, headerLines.length);
            return client.post("/v1/chat/completions", CHAT, all).readResponse();
        }
    }

    private static void startResponse(OutputStream out, String headers) throws IOException {
        out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + headers + "Connection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static void endChunked(OutputStream out) throws IOException {
        out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static byte[] gzip(String text) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(text.getBytes(StandardCharsets.UTF_8));
        }
        return bytes.toByteArray();
    }

    private static String gunzip(byte[] data) throws IOException {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(data))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * A metered route injects include_usage for a client that did not ask; that client accepts gzip. The usage chunk
     * must be taken out again, so the backend is asked for an identity stream (the injected chunk used to reach the
     * client inside a gzip stream the gateway could not filter).
     */
    @Test
    void anInjectedUsageChunkNeverReachesAClientThatAcceptsGzip() throws Exception {
        RawBackend backend = closer.add(new RawBackend((req, out) -> {
            String events = CONTENT + CONTENT + (req.body().contains("\"include_usage\":true") ? USAGE : "") + DONE;
            boolean gzip = req.header("accept-encoding") != null && req.header("accept-encoding").contains("gzip");
            startResponse(out, (gzip ? "Content-Encoding: gzip\r\n" : "") + "Transfer-Encoding: chunked\r\n");
            RawBackend.chunk(out, gzip ? gzip(events) : events.getBytes(StandardCharsets.UTF_8));
            endChunked(out);
        }));
        RunningProxy proxy = proxy(backend, "tokens: { meter: true }");
        RawResponse response = postChat(proxy, "Accept-Encoding: gzip");
        assertEquals(200, response.status(), response::toString);
        assertTrue(response.complete());
        assertTrue(backend.received().get(0).body().contains("include_usage"), "the gateway injected include_usage");
        String text = response.header("content-encoding") == null ? response.bodyText() : gunzip(response.body());
        assertFalse(text.contains("\"usage\":{"), () -> "the client received the usage chunk it did not ask for: " + text);
        assertEquals(CONTENT + CONTENT + DONE, text);
    }

    /** A gzip-encoded event stream on a route with sse_heartbeat: a plain ":\n\n" must never go into compressed bytes. */
    @Test
    void noHeartbeatGoesIntoACompressedEventStream() throws Exception {
        RawBackend backend = closer.add(new RawBackend((req, out) -> {
            startResponse(out, "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n");
            Thread.sleep(1_000); // quiet: a model thinking before its first token
            RawBackend.chunk(out, gzip(CONTENT + DONE));
            endChunked(out);
        }));
        RunningProxy proxy = proxy(backend, "sse_heartbeat: 200ms");
        RawResponse response = postChat(proxy, "Accept-Encoding: gzip");
        assertEquals(200, response.status(), response::toString);
        byte[] body = response.body();
        assertTrue(body.length >= 2 && (body[0] & 0xff) == 0x1f && (body[1] & 0xff) == 0x8b,
                () -> "the body is no longer gzip; it starts with \""
                        + new String(body, 0, Math.min(12, body.length), StandardCharsets.ISO_8859_1).replace("\n", "\\n") + "\"");
        assertEquals(CONTENT + DONE, gunzip(body));
    }

    /**
     * A CRLF stream whose blank line arrives in a read of its own still sits at an event boundary: the heartbeat is
     * sent there (it was missed: only LF bytes were counted across reads).
     */
    @Test
    void aHeartbeatIsSentAtACrlfBoundaryThatArrivedOnItsOwn() throws Exception {
        RawBackend backend = closer.add(new RawBackend((req, out) -> {
            startResponse(out, "Transfer-Encoding: chunked\r\n");
            RawBackend.chunk(out, "data: one\r\n".getBytes(StandardCharsets.US_ASCII));
            Thread.sleep(100);
            RawBackend.chunk(out, "\r\n".getBytes(StandardCharsets.US_ASCII));
            Thread.sleep(1_000);
            RawBackend.chunk(out, "data: two\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            endChunked(out);
        }));
        RunningProxy proxy = proxy(backend, "sse_heartbeat: 200ms");
        RawResponse response = postChat(proxy);
        assertEquals(200, response.status(), response::toString);
        String body = response.bodyText();
        assertTrue(body.startsWith("data: one\r\n\r\n:\n\n"), () -> "no heartbeat after the first event: " + body.replace("\r", "\\r"));
        assertTrue(body.endsWith("data: two\r\n\r\n"), () -> body.replace("\r", "\\r"));
    }

    /**
     * A backend (a buffering proxy, another gateway's cache) that frames its event stream with Content-Length, on a
     * metered route that injected include_usage: removing the usage-only event makes the body shorter than the length
     * relayed with it, so the client waited for bytes that never came (or took the next response's for them).
     */
    @Test
    void removingTheUsageChunkFromALengthFramedStreamKeepsTheFramingRight() throws Exception {
        RawBackend backend = closer.add(new RawBackend((req, out) -> {
            byte[] events = (CONTENT + (req.body().contains("\"include_usage\":true") ? USAGE : "") + DONE)
                    .getBytes(StandardCharsets.UTF_8);
            startResponse(out, "Content-Length: " + events.length + "\r\n");
            out.write(events);
            out.flush();
        }));
        RunningProxy proxy = proxy(backend, "tokens: { meter: true }");
        RawResponse response = postChat(proxy, "Connection: close");
        assertEquals(200, response.status(), response::toString);
        assertTrue(backend.received().get(0).body().contains("include_usage"), "the gateway injected include_usage");
        assertTrue(response.complete(), () -> "the body ended before its framing said it would: Content-Length "
                + response.header("content-length") + ", " + response.body().length + " bytes: " + response.bodyText());
        assertEquals(CONTENT + DONE, response.bodyText());
    }

    /** The same with sse_heartbeat: a heartbeat added to a length-framed stream pushed its last bytes past the length. */
    @Test
    void aHeartbeatIntoALengthFramedStreamKeepsTheFramingRight() throws Exception {
        RawBackend backend = closer.add(new RawBackend((req, out) -> {
            byte[] events = (CONTENT + DONE).getBytes(StandardCharsets.UTF_8);
            startResponse(out, "Content-Length: " + events.length + "\r\n");
            out.write(events, 0, CONTENT.length());
            out.flush();
            Thread.sleep(1_000); // quiet: heartbeats are due
            out.write(events, CONTENT.length(), events.length - CONTENT.length());
            out.flush();
        }));
        RunningProxy proxy = proxy(backend, "sse_heartbeat: 200ms");
        RawResponse response = postChat(proxy, "Connection: close");
        assertEquals(200, response.status(), response::toString);
        String body = response.bodyText();
        assertTrue(body.startsWith(CONTENT + ":\n\n"), () -> "no heartbeat after the first event: " + body.replace("\n", "\\n"));
        assertEquals(CONTENT + DONE, body.replace(":\n\n", ""), () -> "Content-Length " + response.header("content-length")
                + " cut the stream: " + body.replace("\n", "\\n"));
        assertTrue(response.complete(), response::toString);
    }

    /**
     * A close-delimited event stream (no Content-Length, no chunking) whose backend dies inside an event: the client
     * gets what came, but the truncated stream is not stored to be replayed as a complete response.
     */
    @Test
    void aStreamCutInsideAnEventIsNotCached() throws Exception {
        RawBackend backend = closer.add(new RawBackend((req, out) -> {
            startResponse(out, "");
            out.write((CONTENT + "data: {\"id\":\"x\",\"choi").getBytes(StandardCharsets.US_ASCII));
            out.flush(); // then the backend process is gone: FIN inside an event, no [DONE]
        }));
        RunningProxy proxy = proxy(backend, "cache: { post: always, streamed: true }");
        RawResponse first = postChat(proxy);
        assertEquals(200, first.status(), first::toString);
        RawResponse second = postChat(proxy);
        assertNotEquals("HIT", second.header("x-cache"), () -> "a stream cut inside an event was replayed: " + second);
        assertEquals(2, backend.received().size());
    }

    /**
     * A cache hit of an event stream is "replayed as a complete event stream": its access log line carries ttft_ms, as
     * every event stream's does (it had none, so cached answers dropped out of time-to-first-token figures).
     */
    @Test
    void aCachedEventStreamIsLoggedAsAnEventStream() throws Exception {
        RawBackend backend = closer.add(new RawBackend((req, out) -> {
            startResponse(out, "");
            out.write((CONTENT + DONE).getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }));
        RunningProxy proxy = proxy(backend, "cache: { post: always, streamed: true }");
        try (AccessLogCapture log = AccessLogCapture.capture()) {
            assertEquals(200, postChat(proxy).status());
            RawResponse hit = postChat(proxy);
            assertEquals("HIT", hit.header("x-cache"), hit::toString);
            String miss = log.awaitLine(l -> l.contains("cache=MISS"), 2_000);
            assertTrue(miss != null && miss.contains(" ttft_ms="), () -> "the fetched stream: " + miss);
            String line = log.awaitLine(l -> l.contains("cache=HIT"), 2_000);
            assertTrue(line != null && line.contains(" ttft_ms="), () -> "no ttft_ms for the replayed event stream: " + line);
        }
    }

    /** The same stream ended at an event boundary is a whole response and is cached. */
    @Test
    void aStreamThatEndsAtAnEventBoundaryIsCached() throws Exception {
        RawBackend backend = closer.add(new RawBackend((req, out) -> {
            startResponse(out, "");
            out.write((CONTENT + DONE).getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }));
        RunningProxy proxy = proxy(backend, "cache: { post: always, streamed: true }");
        assertEquals(200, postChat(proxy).status());
        RawResponse second = postChat(proxy);
        assertEquals("HIT", second.header("x-cache"), second::toString);
        assertEquals(CONTENT + DONE, second.bodyText());
        assertEquals(1, backend.received().size());
    }
}
