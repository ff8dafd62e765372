package io.streamgate.http2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.HttpClients;
import io.streamgate.testing.Json;
import io.streamgate.testing.PatternBytes;
import io.streamgate.testing.ReceivedBody;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * HTTP/2 over TLS in front of an HTTP/1.1 backend: requests and bodies are relayed intact, many streams share one
 * connection, SSE events are flushed one by one, and a client's RST_STREAM closes that stream's upstream
 * connection at once while the connection's other streams carry on.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class Http2RelayTest {
    private static final Pattern STATUS_499 = Pattern.compile("(^|[\\s\":=])499([\\s,}]|$)");

    private TestCertificates certs;
    private TestBackend backend;
    private RunningProxy proxy;
    private OkHttpClient okHttp;
    /** Per SSE path, the acknowledgements the test gives the backend (lock-step streams). */
    private final Map<String, BlockingQueue<Integer>> acks = new ConcurrentHashMap<>();
    private volatile CountDownLatch concurrentArrivals = new CountDownLatch(0);

    @BeforeEach
    void start() throws Exception {
        certs = TestCertificates.create();
        backend = TestBackend.builder().respond(this::respond).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  http2: true
                  max_concurrent_streams: 128
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
    }

    @AfterEach
    void stop() throws Exception {
        if (okHttp != null) {
            okHttp.dispatcher().executorService().shutdownNow();
            okHttp.connectionPool().evictAll();
        }
        if (proxy != null) {
            proxy.close();
        }
        backend.close();
        certs.close();
    }

    private void respond(BackendExchange ex) throws Exception {
        String uri = ex.uri();
        if (uri.startsWith("/echo")) {
            ReceivedBody body = ex.awaitBody(20);
            ex.respond(200, "text/plain", ex.method() + " " + uri + " " + body.length() + " " + body.sha256()
                    + " host=" + ex.headers().get("host"));
        } else if (uri.startsWith("/concurrent")) {
            concurrentArrivals.countDown();
            // Answer only once all concurrent requests are at the backend at the same time.
            concurrentArrivals.await(20, TimeUnit.SECONDS);
            ex.respond(200, "text/plain", uri);
        } else if (uri.startsWith("/lockstep")) {
            BlockingQueue<Integer> ackQueue = acks.computeIfAbsent(uri, k -> new LinkedBlockingQueue<>());
            ex.startChunked(200, "text/event-stream");
            for (int k = 0; k < 20; k++) {
                ex.write("data: " + k + "\n\n");
                Integer ack = ackQueue.poll(5, TimeUnit.SECONDS);
                if (ack == null || ack != k) {
                    throw new AssertionError(uri + ": event " + k + " did not reach the client within 5s (ack " + ack + ")");
                }
            }
            ex.write("data: [DONE]\n\n");
            ex.end();
        } else if (uri.startsWith("/endless")) {
            ex.startChunked(200, "text/event-stream");
            for (int i = 0; i < 300; i++) {
                ex.write("data: tick " + i + "\n\n");
                try {
                    ex.connection().closed().get(100, TimeUnit.MILLISECONDS);
                    return;
                } catch (TimeoutException stillOpen) {
                    // keep generating, like a model would
                }
            }
            ex.end();
        } else {
            ex.awaitBody(20);
            ex.respond(200, "text/plain", ex.method() + " " + uri);
        }
    }

    private URI uri(String path) {
        return URI.create("https://localhost:" + proxy.port() + path);
    }

    @Test
    void aGetIsRelayedOverHttp2WithTheAuthorityAsHost() throws Exception {
        HttpClient client = HttpClients.builder(certs).build();
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(uri("/echo/get?q=1")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response::body);
        assertEquals(HttpClient.Version.HTTP_2, response.version());
        assertTrue(response.body().startsWith("GET /echo/get?q=1 0 "), response.body());
        assertTrue(response.body().endsWith(" host=localhost:" + proxy.port()), "the backend's Host must come from :authority: " + response.body());
        assertTrue(response.headers().firstValue("x-request-id").isPresent(), "no x-request-id over h2");
        BackendExchange seen = backend.takeExchange();
        assertFalse(seen.headers().contains("connection"), "h2 relay sent a Connection header upstream: " + seen.headers());
    }

    @Test
    void aPostBodyIsRelayedIntact() throws Exception {
        byte[] body = new byte[300 * 1024];
        PatternBytes.fill(body, 0, body.length, 7);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        HttpClient client = HttpClients.builder(certs).build();
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(uri("/echo/post"))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).header("content-type", "application/octet-stream")
                        .timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response::body);
        assertEquals(HttpClient.Version.HTTP_2, response.version());
        assertTrue(response.body().startsWith("POST /echo/post " + body.length + " " + sha + " "), response.body());
    }

    @Test
    void errorAnswersAreJsonOverHttp2Too() throws Exception {
        proxy.close();
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
                  - path_prefix: /v1
                    upstream: backend
                """.formatted(certs.rsa("localhost").yamlItem(6), backend.url()));
        HttpClient client = HttpClients.builder(certs).build();
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(uri("/nowhere")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(404, response.statusCode());
        assertEquals(HttpClient.Version.HTTP_2, response.version());
        Map<?, ?> error = (Map<?, ?>) ((Map<?, ?>) Json.parse(response.body())).get("error");
        assertEquals("route_not_found", error.get("code"), response.body());
    }

    @Test
    void fiftyConcurrentStreamsShareOneConnection() throws Exception {
        int streams = 50;
        HttpClients.Builder builder = HttpClients.builder(certs);
        HttpClient client = builder.build();
        // One request first, so the connection exists before the burst (the JDK client would otherwise race
        // several connection attempts for the first requests).
        assertEquals(200, client.send(HttpRequest.newBuilder(uri("/echo/warm")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        concurrentArrivals = new CountDownLatch(streams);
        List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            futures.add(client.sendAsync(HttpRequest.newBuilder(uri("/concurrent/" + i)).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < streams; i++) {
            HttpResponse<String> response = futures.get(i).get(30, TimeUnit.SECONDS);
            assertEquals(200, response.statusCode());
            assertEquals(HttpClient.Version.HTTP_2, response.version());
            assertEquals("/concurrent/" + i, response.body());
        }
        assertEquals(1, builder.connections().get(), "all streams must share one TLS connection");
    }

    @Test
    void sseOverHttp2ArrivesEventByEvent() throws Exception {
        HttpClient client = HttpClients.builder(certs).build();
        String path = "/lockstep/one";
        BlockingQueue<Integer> ackQueue = acks.computeIfAbsent(path, k -> new LinkedBlockingQueue<>());
        HttpResponse<Stream<String>> response = client.sendAsync(HttpRequest.newBuilder(uri(path)).build(),
                HttpResponse.BodyHandlers.ofLines()).get(10, TimeUnit.SECONDS);
        assertEquals(200, response.statusCode());
        assertEquals(HttpClient.Version.HTTP_2, response.version());
        assertTrue(response.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
        Iterator<String> lines = response.body().filter(l -> !l.isEmpty()).iterator();
        for (int k = 0; k < 20; k++) {
            assertTrue(lines.hasNext(), "stream ended before event " + k + "; backend: " + backend.failures());
            assertEquals("data: " + k, lines.next());
            ackQueue.add(k);
        }
        assertEquals("data: [DONE]", lines.next());
        assertFalse(lines.hasNext());
        assertTrue(backend.failures().isEmpty(), () -> "backend: " + backend.failures());
    }

    /**
     * Two streams on one connection; the client cancels one (OkHttp sends RST_STREAM(CANCEL) when an unfinished
     * h2 body is closed). That stream's backend connection must close within 2 s, and the other stream goes on.
     */
    @Test
    void rstStreamClosesThatStreamsUpstreamAndLeavesTheOthers() throws Exception {
        okHttp = HttpClients.okHttp(certs);
        String lockstep = "/lockstep/survivor";
        BlockingQueue<Integer> ackQueue = acks.computeIfAbsent(lockstep, k -> new LinkedBlockingQueue<>());
        try (AccessLogCapture accessLog = AccessLogCapture.capture();
             Response survivor = okHttp.newCall(new Request.Builder().url(uri(lockstep).toURL()).build()).execute()) {
            assertEquals(okhttp3.Protocol.HTTP_2, survivor.protocol());
            BufferedReader survivorLines = new BufferedReader(new InputStreamReader(survivor.body().byteStream(), StandardCharsets.UTF_8));
            assertEquals("data: 0", survivorLines.readLine());
            backend.takeExchange();

            BackendConnection cancelledUpstream;
            Response cancelled = okHttp.newCall(new Request.Builder().url(uri("/endless").toURL()).build()).execute();
            try {
                assertEquals(okhttp3.Protocol.HTTP_2, cancelled.protocol());
                BufferedReader cancelledLines = new BufferedReader(new InputStreamReader(cancelled.body().byteStream(), StandardCharsets.UTF_8));
                assertEquals("data: tick 0", cancelledLines.readLine());
                cancelledUpstream = backend.takeExchange().connection();
                assertEquals(1, okHttp.connectionPool().connectionCount(), "both streams must share one connection");
            } finally {
                cancelled.close(); // RST_STREAM(CANCEL)
            }
            try {
                cancelledUpstream.closed().get(2, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("the cancelled stream's upstream connection is still open 2s after RST_STREAM: " + cancelledUpstream);
            }

            for (int k = 0; k < 20; k++) {
                ackQueue.add(k);
                String line = survivorLines.readLine();
                if (line != null && line.isEmpty()) {
                    line = survivorLines.readLine();
                }
                assertEquals(k == 19 ? "data: [DONE]" : "data: " + (k + 1), line, "the other stream on the connection broke");
            }
            String line = accessLog.awaitLine(l -> l.contains("/endless"), 2_000);
            assertNotNull(line, () -> "no access log line for the cancelled stream; lines: " + accessLog.lines());
            assertTrue(STATUS_499.matcher(line).find(), "a cancelled stream is logged with 499: " + line);
        }
    }
}
