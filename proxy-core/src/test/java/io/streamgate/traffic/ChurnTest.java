package io.streamgate.traffic;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.micrometer.core.instrument.MeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.config.ConfigLoader;
import io.streamgate.http2.H2Probe;
import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.BodyStream;
import io.streamgate.testing.Closer;
import io.streamgate.testing.LeakCheckExtension;
import io.streamgate.testing.LeakRecorder;
import io.streamgate.testing.PatternBytes;
import io.streamgate.testing.RawBackend;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * Everything at once for a while, then the gateway must be back at rest. Several client threads mix plain and streamed
 * completions, event streams left mid-way (HTTP/1.1 close or reset, HTTP/2 RST_STREAM), request bodies cut off or
 * stalled, slow readers behind a small receive window, and backends that die before or during a response, stall, are
 * slow or answer garbage, while config reloads replace upstreams under the traffic.
 *
 * <p>Every client call has a deadline, and a call that meets it counts as a hang; every answer must be the one its
 * misbehaviour calls for, and nothing may log a warning. Afterwards no request, event stream, client connection,
 * endpoint slot, queued or pending request is counted any more, every backend connection the gateway still holds is
 * idle in a pool, and Netty's paranoid leak detection reported no buffer. The random choices come from a fixed seed, printed with the tallies
 * ({@code -Dstreamgate.churn.seed=N} replays other choices); the interleaving is the machine's.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ChurnTest {
    private static final long SEED = Long.getLong("streamgate.churn.seed", 20261207L);
    private static final long TRAFFIC_MILLIS = 12_000;
    private static final int CLIENT_THREADS = 6;
    /**
     * Longest wait for any one answer: well past every timeout configured below (2 s) and the queue's (5 s), and past
     * the multi-second stalls of a loaded CI machine, which are not hangs.
     */
    private static final int CLIENT_TIMEOUT_MS = 15_000;
    private static final int EVENTS = 10;
    private static final int BIG = 512 * 1024;
    private static final String CHAT = "/v1/chat/completions";

    /** One kind of client behaviour; throws an AssertionError for a wrong answer, a timeout exception for a hang. */
    @FunctionalInterface
    private interface Scenario {
        void run(Random random, Client client) throws Exception;
    }

    private record Kind(String name, int weight, Scenario scenario) {
    }

    private final List<Kind> mix = List.of(
            new Kind("json", 3, this::json),
            new Kind("sse-to-the-end", 3, this::sseToTheEnd),
            new Kind("sse-abandoned", 2, this::sseAbandoned),
            new Kind("slow-reader", 2, this::slowReader),
            new Kind("body-cut-off", 2, this::bodyCutOff),
            new Kind("h2-reset", 3, this::h2Reset),
            new Kind("flaky-backend", 3, this::flakyBackend),
            new Kind("garbage-backend", 1, this::garbageBackend));

    private final Closer closer = new Closer();
    private final Map<String, LongAdder> runs = new ConcurrentHashMap<>();
    private final Queue<String> hangs = new ConcurrentLinkedQueue<>();
    private final Queue<String> failures = new ConcurrentLinkedQueue<>();
    private final AtomicInteger reloads = new AtomicInteger();
    private TestBackend a;
    private TestBackend b;
    private TestBackend flaky;
    private RawBackend garbage;
    private RunningProxy proxy;

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    @Test
    void afterAnyMixOfMisbehaviourNothingHangsAndTheGatewayReturnsToRest() throws Exception {
        System.out.println("ChurnTest seed " + SEED + " (-Dstreamgate.churn.seed=" + SEED + " replays its choices)");
        a = closer.add(TestBackend.builder().respond(ex -> llm(ex, "a")).start());
        b = closer.add(TestBackend.builder().respond(ex -> llm(ex, "b")).start());
        flaky = closer.add(TestBackend.builder().respond(ChurnTest::flaky).start());
        garbage = closer.add(new RawBackend(ChurnTest::garbage));
        proxy = RunningProxy.start(yaml(0));
        closer.add(proxy);
        // Warnings and errors logged meanwhile: an exception no handler took care of shows here and nowhere else.
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        logged.start();
        root.addAppender(logged);
        closer.add((AutoCloseable) () -> root.detachAppender(logged));

        long started = System.nanoTime();
        long end = started + TimeUnit.MILLISECONDS.toNanos(TRAFFIC_MILLIS);
        ExecutorService threads = Executors.newFixedThreadPool(CLIENT_THREADS + 1);
        for (int i = 0; i < CLIENT_THREADS; i++) {
            int index = i;
            threads.execute(() -> clientLoop(new Random(SEED + index), end));
        }
        threads.execute(() -> reloadLoop(new Random(SEED - 1), end));
        threads.shutdown();
        boolean finished = threads.awaitTermination(TRAFFIC_MILLIS + 2L * CLIENT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        threads.shutdownNow();
        long clientMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        List<String> unrested = awaitRest(10_000);
        List<String> warnings = logged.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
                .map(e -> e.getLoggerName() + ": " + e.getFormattedMessage()
                        + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getMessage()))
                .distinct().toList();
        System.out.println("ChurnTest: clients stopped after " + clientMillis + " ms, " + reloads.get() + " reloads, runs "
                + new TreeMap<>(runs) + ", " + hangs.size() + " hangs, " + failures.size() + " wrong answers");

        assertAll(
                () -> assertTrue(finished, "a client thread was still running long after its last deadline"),
                () -> assertEquals(List.of(), List.copyOf(hangs), "client calls that got no answer in time"),
                () -> assertEquals(List.of(), firstOf(failures, 20), failures.size() + " wrong answers, the first 20"),
                () -> assertEquals(List.of(), unrested, "the gateway did not return to rest"),
                () -> assertEquals(List.of(), warnings, "warnings logged during the traffic"),
                () -> assertTrue(reloads.get() >= 3, "only " + reloads.get() + " reloads during the traffic"),
                () -> {
                    for (Kind kind : mix) {
                        LongAdder n = runs.get(kind.name());
                        assertTrue(n != null && n.sum() > 0, "scenario " + kind.name() + " never ran");
                    }
                });

        // Leak reports come when the collector finds a buffer nobody released: stop everything that could still
        // hold one, then collect.
        closer.close();
        LeakCheckExtension.flushPendingReports();
        assertEquals(List.of(), LeakRecorder.reports(), "Netty leak reports");
    }

    // ---- the clients

    private void clientLoop(Random random, long endNanos) {
        try (Client client = new Client()) {
            while (System.nanoTime() < endNanos) {
                Kind kind = pick(random);
                runs.computeIfAbsent(kind.name(), k -> new LongAdder()).increment();
                try {
                    kind.scenario().run(random, client);
                } catch (SocketTimeoutException | TimeoutException e) {
                    hangs.add(kind.name() + ": " + e);
                    client.dropH2();
                } catch (Throwable t) {
                    failures.add(kind.name() + ": " + t);
                    client.dropH2();
                }
            }
        }
    }

    private Kind pick(Random random) {
        int total = mix.stream().mapToInt(Kind::weight).sum();
        int r = random.nextInt(total);
        for (Kind kind : mix) {
            r -= kind.weight();
            if (r < 0) {
                return kind;
            }
        }
        throw new IllegalStateException();
    }

    /** A client thread's HTTP/2 connection, opened on first use and kept while it works. */
    private final class Client implements AutoCloseable {
        private H2Probe h2;

        H2Probe h2() throws InterruptedException {
            if (h2 == null || !h2.channel.isActive()) {
                dropH2();
                h2 = new H2Probe(proxy.port(), true);
            }
            return h2;
        }

        void dropH2() {
            if (h2 != null) {
                h2.close();
                h2 = null;
            }
        }

        @Override
        public void close() {
            dropH2();
        }
    }

    /** Two completions on one kept-alive connection. */
    private void json(Random random, Client client) throws Exception {
        try (RawHttpClient http = connect(false)) {
            for (int i = 0; i < 2; i++) {
                RawResponse r = http.post(CHAT, "{\"model\":\"m\"}", "Content-Type: application/json").readResponse();
                assertEquals(200, r.status(), r::toString);
                assertTrue(r.bodyText().contains("chat.completion"), r::toString);
            }
        }
    }

    private void sseToTheEnd(Random random, Client client) throws Exception {
        try (RawHttpClient http = connect(false)) {
            BodyStream events = openEventStream(http);
            for (int i = 0; i < EVENTS; i++) {
                assertEquals(event(i), events.readEvent());
            }
            assertEquals("data: [DONE]", events.readEvent());
            assertNull(events.readEvent());
            assertTrue(events.isComplete(), "the stream ended without its terminating chunk");
        }
    }

    /** Leaves a stream after a few events, with a FIN or (no linger) a RST. */
    private void sseAbandoned(Random random, Client client) throws Exception {
        try (RawHttpClient http = connect(false)) {
            BodyStream events = openEventStream(http);
            int read = 1 + random.nextInt(3);
            for (int i = 0; i < read; i++) {
                assertEquals(event(i), events.readEvent());
            }
            if (random.nextBoolean()) {
                http.socket().setSoLinger(true, 0);
            }
        }
    }

    /** A large body read slowly through a small receive window (the gateway must hold the backend back); or left. */
    private void slowReader(Random random, Client client) throws Exception {
        boolean leaves = random.nextInt(3) == 0;
        try (RawHttpClient http = connect(true)) {
            http.get("/v1/big");
            ResponseHead head = http.readHead();
            assertEquals(200, head.status(), head::toString);
            BodyStream body = http.openBody(head);
            byte[] piece = new byte[4096];
            byte[] expected = new byte[piece.length];
            long total = 0;
            for (int n; (n = body.read(piece, 0, piece.length)) > 0; total += n) {
                PatternBytes.fill(expected, 0, n, total);
                assertArrayEquals(Arrays.copyOf(expected, n), Arrays.copyOf(piece, n), "body bytes at " + total);
                if (leaves && total > BIG / 4) {
                    return;
                }
                Thread.sleep(1);
            }
            assertTrue(body.isComplete(), "the body ended early, after " + total + " bytes");
            assertEquals(BIG, total);
        }
    }

    /** Sends a quarter of a declared body, then closes (FIN or RST), or stalls until the gateway answers 408. */
    private void bodyCutOff(Random random, Client client) throws Exception {
        try (RawHttpClient http = connect(false)) {
            http.send("POST /v1/upload HTTP/1.1\r\nHost: test.local\r\nContent-Type: application/octet-stream\r\n"
                    + "Content-Length: 4096\r\n\r\n" + "x".repeat(1024));
            int how = random.nextInt(3);
            if (how == 0) {
                http.socket().setSoLinger(true, 0);
            }
            if (how < 2) {
                return;
            }
            assertError(http.readResponse(), 408, "request_timeout");
            assertTrue(http.awaitServerClose(CLIENT_TIMEOUT_MS), "the connection stayed open after the 408");
        }
    }

    /**
     * On the thread's HTTP/2 connection: an event stream reset once its first event arrived, then a completion that
     * must be answered on the same connection; sometimes a whole stream first.
     */
    private void h2Reset(Random random, Client client) throws Exception {
        H2Probe h2 = client.h2();
        if (random.nextBoolean()) {
            H2Probe.Outcome whole = h2Post(h2, "{\"model\":\"m\",\"stream\":true}").outcome.get(CLIENT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            assertEquals(200, whole.status(), whole::toString);
            assertTrue(whole.body().endsWith("data: [DONE]\n\n"), whole::toString);
        }
        H2Probe.Stream reset = h2Post(h2, "{\"model\":\"m\",\"stream\":true}");
        await(() -> reset.body.size() > 0 || reset.outcome.isDone(), "the first event of an HTTP/2 stream");
        h2.reset(reset);
        H2Probe.Outcome next = h2Post(h2, "{\"model\":\"m\"}").outcome.get(CLIENT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        assertEquals(200, next.status(), next::toString);
        assertTrue(next.body().contains("chat.completion"), next::toString);
    }

    private static H2Probe.Stream h2Post(H2Probe h2, String json) throws Exception {
        H2Probe.Stream s = h2.open(H2Probe.headers("POST", CHAT, "content-type", "application/json"), false);
        h2.data(s, json, true).get(CLIENT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        return s;
    }

    private void flakyBackend(Random random, Client client) throws Exception {
        String[] kinds = {"die-before", "die-mid", "stall-mid", "silent", "slow"};
        String kind = kinds[random.nextInt(kinds.length)];
        try (RawHttpClient http = connect(false)) {
            http.get("/flaky/" + kind);
            switch (kind) {
                case "die-before" -> assertError(http.readResponse(), 502, "upstream_unavailable");
                case "silent" -> assertError(http.readResponse(), 504, "upstream_timeout");
                case "slow" -> {
                    RawResponse r = http.readResponse();
                    assertEquals(200, r.status(), r::toString);
                    assertEquals("slow", r.bodyText());
                }
                default -> assertCutAfterOneEvent(http, kind);
            }
        }
    }

    private void garbageBackend(Random random, Client client) throws Exception {
        try (RawHttpClient http = connect(false)) {
            if (random.nextBoolean()) {
                http.get("/garbage/head");
                assertError(http.readResponse(), 502, "upstream_bad_response");
            } else {
                http.get("/garbage/mid");
                assertCutAfterOneEvent(http, "garbage mid-stream");
            }
        }
    }

    /** A stream the backend broke after its first event: the client sees that event, then a close without end. */
    private static void assertCutAfterOneEvent(RawHttpClient http, String what) throws IOException {
        ResponseHead head = http.readHead();
        assertEquals(200, head.status(), () -> what + ": " + head);
        BodyStream events = http.openBody(head);
        assertEquals("data: partial", events.readEvent(), what);
        assertNull(events.readEvent(), what);
        assertFalse(events.isComplete(), what + ": a broken stream was ended as if complete");
        assertTrue(events.connectionEnded(), what + ": the client connection was not closed");
    }

    private RawHttpClient connect(boolean smallReceiveWindow) throws IOException {
        Socket socket = new Socket();
        if (smallReceiveWindow) {
            socket.setReceiveBufferSize(8 * 1024);
        }
        socket.setTcpNoDelay(true);
        socket.connect(new InetSocketAddress("127.0.0.1", proxy.port()), CLIENT_TIMEOUT_MS);
        socket.setSoTimeout(CLIENT_TIMEOUT_MS);
        return RawHttpClient.over(socket);
    }

    private static BodyStream openEventStream(RawHttpClient http) throws IOException {
        http.post(CHAT, "{\"model\":\"m\",\"stream\":true}", "Content-Type: application/json");
        ResponseHead head = http.readHead();
        assertEquals(200, head.status(), head::toString);
        return http.openBody(head);
    }

    private static String event(int n) {
        return "data: {\"n\":" + n + "}";
    }

    /** Waits for {@code condition} as a client would: past the deadline it is a hang, not a wrong answer. */
    private static void await(BooleanSupplier condition, String what) throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLIENT_TIMEOUT_MS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("no " + what + " within " + CLIENT_TIMEOUT_MS + " ms");
            }
            Thread.sleep(1);
        }
    }

    // ---- reloads

    /** Every few hundred ms a reload that replaces one upstream (Gray code: one bit, one upstream, per step). */
    private void reloadLoop(Random random, long endNanos) {
        int[] variants = {0, 1, 3, 2};
        for (int step = 1; System.nanoTime() < endNanos; step++) {
            try {
                Thread.sleep(200 + random.nextInt(400));
                Streamgate.ReloadResult result = proxy.gateway().reload(
                        ConfigLoader.parse(yaml(variants[step % variants.length]), "churn.yaml"));
                assertEquals(List.of(), result.restartNeeded());
                reloads.incrementAndGet();
            } catch (InterruptedException e) {
                return;
            } catch (Throwable t) {
                failures.add("reload: " + t);
            }
        }
    }

    /**
     * Bit 0 of {@code variant} is llm's idle timeout, bit 1 flaky's: a change replaces that upstream (its pools retire,
     * its in-flight counts carry over). llm takes two requests per endpoint, so requests also wait in its queue.
     */
    private String yaml(int variant) {
        return """
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 2
                  h2c: true
                  limits: {body_idle_timeout: 2s}
                upstreams:
                  llm:
                    endpoints: ["%s", "%s"]
                    max_in_flight: 2
                    queue: {size: 64, timeout: 5s}
                    pool: {idle_timeout: %ds}
                  flaky:
                    endpoints: ["%s"]
                    outlier_detection: {consecutive_failures: 0}
                    pool: {idle_timeout: %ds}
                  garbage:
                    endpoints: ["%s"]
                    outlier_detection: {consecutive_failures: 0}
                routes:
                  - path_prefix: /flaky/
                    upstream: flaky
                    timeouts: {first_byte: 2s, idle: 2s}
                  - path_prefix: /garbage/
                    upstream: garbage
                  - path_prefix: /
                    upstream: llm
                """.formatted(a.url(), b.url(), 30 + (variant & 1), flaky.url(), 30 + (variant >> 1 & 1), garbage.url());
    }

    // ---- at rest

    /** Polls until the gateway is at rest; returns what still is not after {@code timeoutMillis} (empty: at rest). */
    private List<String> awaitRest(long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        List<String> busy = notAtRest();
        while (!busy.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
            busy = notAtRest();
        }
        return busy;
    }

    private List<String> notAtRest() {
        Streamgate gw = proxy.gateway();
        MeterRegistry meters = gw.meters();
        List<String> busy = new ArrayList<>();
        if (gw.activeRequests() != 0) {
            busy.add(gw.activeRequests() + " requests in flight");
        }
        for (String gauge : List.of("streamgate.requests.active", "streamgate.streams.active", "streamgate.connections.active",
                "streamgate.upstream.queue.waiting")) {
            meters.get(gauge).gauges().forEach(g -> {
                if (g.value() != 0) {
                    busy.add(gauge + g.getId().getTags() + " = " + g.value());
                }
            });
        }
        Map<String, Streamgate.EndpointState> endpoints = gw.endpointStates();
        endpoints.forEach((url, e) -> {
            if (e.inFlight() != 0 || e.pending() != 0 || e.open() != e.idle()) {
                busy.add(url + ": " + e.inFlight() + " in flight, " + e.pending() + " waiting for a connection, "
                        + e.open() + " connections open of which " + e.idle() + " idle");
            }
        });
        for (TestBackend backend : List.of(a, b, flaky)) {
            long open = backend.connections().stream().filter(BackendConnection::isOpen).count();
            Streamgate.EndpointState e = endpoints.get(backend.url());
            if (e == null || open != e.idle()) {
                busy.add(backend.url() + " has " + open + " connections open from the gateway, which holds "
                        + (e == null ? "none" : e.idle()) + " idle");
            }
        }
        return busy;
    }

    private static List<String> firstOf(Queue<String> q, int n) {
        return q.stream().limit(n).toList();
    }

    // ---- the backends

    /** A vLLM-like backend: completions (streamed when asked), a large body, and an upload sink. */
    private static void llm(BackendExchange ex, String name) throws Exception {
        String body = ex.awaitBody(10).text();
        if (ex.uri().startsWith("/v1/big")) {
            ex.startFixed(200, "application/octet-stream", BIG);
            byte[] piece = new byte[8 * 1024];
            for (int pos = 0; pos < BIG; pos += piece.length) {
                PatternBytes.fill(piece, 0, piece.length, pos);
                ex.write(piece, 0, piece.length);
            }
            ex.end();
        } else if (ex.uri().startsWith("/v1/upload")) {
            ex.respond(200, "text/plain", "uploaded");
        } else if (body.contains("\"stream\":true")) {
            ex.startChunked(200, "text/event-stream", "Cache-Control", "no-cache");
            for (int i = 0; i < EVENTS; i++) {
                ex.write(event(i) + "\n\n");
                Thread.sleep(10);
            }
            ex.write("data: [DONE]\n\n");
            ex.end();
        } else {
            ex.respond(200, "application/json", "{\"object\":\"chat.completion\",\"backend\":\"" + name + "\"}");
        }
    }

    /** Breaks in the way its path names; the route gives it 2 s to start and 2 s between pieces. */
    private static void flaky(BackendExchange ex) throws Exception {
        switch (ex.uri()) {
            case "/flaky/die-before" -> ex.die();
            case "/flaky/die-mid" -> {
                ex.startChunked(200, "text/event-stream");
                ex.write("data: partial\n\n");
                Thread.sleep(20);
                ex.die();
            }
            case "/flaky/stall-mid" -> {
                ex.startChunked(200, "text/event-stream");
                ex.write("data: partial\n\n"); // and nothing more
            }
            case "/flaky/slow" -> {
                Thread.sleep(200); // well within the route's 2 s first_byte
                ex.respond(200, "text/plain", "slow");
            }
            default -> {
                // silent: the request is read and never answered
            }
        }
    }

    /** Not HTTP at all, or a stream whose second chunk has no valid size; the connection closes after either. */
    private static void garbage(RawBackend.Request request, OutputStream out) throws IOException {
        if (request.head().startsWith("GET /garbage/mid")) {
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            RawBackend.chunk(out, "data: partial\n\n".getBytes(StandardCharsets.US_ASCII));
            out.write("zz-not-a-size\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        } else {
            out.write("SSH-2.0-OpenSSH_9.6\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        out.flush();
    }
}
