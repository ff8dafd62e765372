package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import io.streamgate.config.ProxyConfig;
import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.BodyStream;
import io.streamgate.testing.ManualClock;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestBackend.Responder;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Streamgate#reload} on a running gateway with real sockets and two backends, A and B: streams in flight
 * finish where they started while new requests (also on old keep-alive connections) follow the new routes; a config
 * that cannot be compiled changes nothing; pools and rate-limit buckets survive when their settings did not change;
 * settings that need a restart are reported and keep their running values.
 *
 * <p>Every gateway here runs one event loop ({@code io_threads: 1}), so all client connections share one set of
 * upstream pools and "the next request reuses the pooled connection" does not depend on which loop accepted it.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReloadTest {
    private static final int EVENTS = 8;
    /** Events the stream has delivered before the reload; the rest come after it. */
    private static final int EVENTS_BEFORE_RELOAD = 3;

    /** The test's acknowledgements of stream events: the backend sends event k+1 only after ack k. */
    private final BlockingQueue<Integer> acks = new LinkedBlockingQueue<>();
    /** Opened by the test to let a held response (a target containing "/hold") finish. */
    private final CountDownLatch releaseHeld = new CountDownLatch(1);
    private TestBackend backendA;
    private TestBackend backendB;
    private RunningProxy proxy;

    @BeforeEach
    void startBackends() {
        backendA = TestBackend.builder().respond(scripted("A")).start();
        backendB = TestBackend.builder().respond(scripted("B")).start();
    }

    @AfterEach
    void stop() throws Exception {
        releaseHeld.countDown();
        if (proxy != null) {
            proxy.close();
        }
        backendA.close();
        backendB.close();
    }

    /**
     * "/stream" targets get an event stream paced by the test's acks, "/hold" targets one event and then the rest
     * once the test releases them, everything else "NAME METHOD URI" (which backend, which path).
     */
    private Responder scripted(String name) {
        Responder named = Responders.named(name);
        return exchange -> {
            if (exchange.uri().contains("/stream")) {
                streamPacedByAcks(exchange);
            } else if (exchange.uri().contains("/hold")) {
                exchange.awaitBody(10);
                exchange.startChunked(200, "text/event-stream");
                exchange.write("data: held\n\n");
                if (!releaseHeld.await(20, TimeUnit.SECONDS)) {
                    throw new AssertionError("the test never released " + exchange.uri());
                }
                exchange.write("data: released\n\n");
                exchange.end();
            } else {
                named.respond(exchange);
            }
        };
    }

    private void streamPacedByAcks(BackendExchange exchange) throws Exception {
        exchange.awaitBody(10);
        exchange.startChunked(200, "text/event-stream", "Cache-Control", "no-cache");
        for (int k = 0; k < EVENTS; k++) {
            exchange.write("data: {\"n\":" + k + "}\n\n");
            Integer ack = acks.poll(10, TimeUnit.SECONDS);
            if (ack == null || ack != k) {
                throw new AssertionError("event " + k + " was not acknowledged by the client (ack: " + ack + ")");
            }
        }
        exchange.write("data: [DONE]\n\n");
        exchange.end();
    }

    @Test
    void aStreamKeepsItsBackendWhileNewRequestsAndKeptAliveConnectionsFollowTheNewRoutes() throws Exception {
        proxy = RunningProxy.start(yaml(v1To("a")));
        try (RawHttpClient keptAlive = proxy.connect(); RawHttpClient streaming = proxy.connect()) {
            assertEquals("A GET /v1/before", okBody(keptAlive.get("/v1/before").readResponse()));

            streaming.post("/v1/stream", "{\"stream\":true}", "Content-Type: application/json");
            ResponseHead head = streaming.readHead();
            assertEquals(200, head.status(), head::toString);
            BodyStream events = streaming.openBody(head);
            for (int k = 0; k < EVENTS_BEFORE_RELOAD; k++) {
                assertEquals("data: {\"n\":" + k + "}", events.readEvent());
                acks.add(k);
            }

            Streamgate.ReloadResult result = proxy.gateway().reload(parse(yaml(v1To("b"))));
            assertEquals(List.of(), result.restartNeeded());

            try (RawHttpClient fresh = proxy.connect()) {
                assertEquals("B GET /v1/after", okBody(fresh.get("/v1/after").readResponse()));
            }
            assertEquals("B GET /v1/again", okBody(keptAlive.get("/v1/again").readResponse()),
                    "a connection opened before the reload must route its next request by the new config");

            for (int k = EVENTS_BEFORE_RELOAD; k < EVENTS; k++) {
                assertEquals("data: {\"n\":" + k + "}", events.readEvent(), "event " + k + "; A: " + backendA.failures());
                acks.add(k);
            }
            assertEquals("data: [DONE]", events.readEvent());
            assertNull(events.readEvent());
            assertTrue(events.isComplete(), "the stream must end with its terminating chunk");
        }
        assertEquals(List.of("/v1/before", "/v1/stream"), targets(backendA));
        assertEquals(List.of("/v1/after", "/v1/again"), targets(backendB));
        assertTrue(backendA.failures().isEmpty(), () -> "A: " + backendA.failures());
    }

    @Test
    void aConfigThatFailsToParseOrToCompileLeavesTheRunningOneServing() throws Exception {
        proxy = RunningProxy.start(yaml(v1To("a")));
        ProxyConfig running = proxy.gateway().config();

        ConfigException parseError = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(yaml(v1To("b")).replace("path_prefix: /v1", "path_prefix: v1"), "broken.yaml"));
        assertTrue(parseError.getMessage().startsWith("broken.yaml:"), parseError::getMessage);

        // Valid for the loader (burst may be up to 2^31-1), but a bucket that takes ~5 million years to fill
        // cannot be built: the gateway refuses the whole config when compiling it.
        ProxyConfig uncompilable = parse(yaml(v1To("b") + """
                rate_limits:
                  forever: { key: client_ip, requests: 1/d, burst: 2147483647 }
                """));
        IllegalArgumentException compileError = assertThrows(IllegalArgumentException.class,
                () -> proxy.gateway().reload(uncompilable));
        assertTrue(compileError.getMessage().contains("forever"), compileError::getMessage);

        assertSame(running, proxy.gateway().config());
        try (RawHttpClient client = proxy.connect()) {
            assertEquals("A GET /v1/still-a", okBody(client.get("/v1/still-a").readResponse()));
        }
        assertEquals(List.of(), targets(backendB));

        // Nothing was left half-applied: the next good config goes in whole.
        proxy.gateway().reload(parse(yaml(v1To("b"))));
        try (RawHttpClient client = proxy.connect()) {
            assertEquals("B GET /v1/now-b", okBody(client.get("/v1/now-b").readResponse()));
        }
    }

    @Test
    void anUnchangedUpstreamKeepsItsConnectionsAndAChangedOneClosesThemAsTheyFreeUp() throws Exception {
        proxy = RunningProxy.start(yaml(upstreamA("a", backendA) + route("/v1", "a", "")));
        try (RawHttpClient keptAlive = proxy.connect(); RawHttpClient holding = proxy.connect()) {
            assertEquals("A GET /v1/one", okBody(keptAlive.get("/v1/one").readResponse()));
            BackendConnection first = backendA.connections().get(0);

            // Only the route changes (and visibly so: it now rewrites the path).
            proxy.gateway().reload(parse(yaml(upstreamA("a", backendA) + route("/v1", "a", "rewrite_prefix: /w1"))));
            assertEquals("A GET /w1/two", okBody(keptAlive.get("/v1/two").readResponse()));
            assertEquals(1, backendA.acceptedConnections(), "the reload dropped the pooled connection of an unchanged upstream");
            assertEquals(2, first.requests());

            // One connection to A leased by a stream in flight, another one idle in the pool.
            holding.get("/v1/hold");
            ResponseHead head = holding.readHead();
            assertEquals(200, head.status(), head::toString);
            BodyStream held = holding.openBody(head);
            assertEquals("data: held", held.readEvent());
            assertEquals("A GET /w1/three", okBody(keptAlive.get("/v1/three").readResponse()));
            assertEquals(2, backendA.acceptedConnections());
            BackendConnection leased = connectionThatReceived(backendA, "/w1/hold");
            BackendConnection idle = connectionThatReceived(backendA, "/w1/three");

            proxy.gateway().reload(parse(yaml(upstreamA("a", backendB) + route("/v1", "a", "rewrite_prefix: /w1"))));
            Poll.until(() -> !idle.isOpen(), 5_000, () -> "the idle connection to the replaced endpoint stayed open: " + idle);
            assertTrue(leased.isOpen(), "the connection of the stream in flight was closed under it");

            assertEquals("B GET /w1/four", okBody(keptAlive.get("/v1/four").readResponse()));
            assertEquals(1, backendB.acceptedConnections());

            releaseHeld.countDown();
            assertEquals("data: released", held.readEvent());
            assertNull(held.readEvent());
            assertTrue(held.isComplete(), "the stream on the replaced endpoint must end normally");
            Poll.until(() -> !leased.isOpen(), 5_000,
                    () -> "the replaced endpoint's connection went back to a pool after its stream: " + leased);
            assertEquals(2, backendA.acceptedConnections());
        }
    }

    /**
     * A request that waits for admission across the reload leases its connection after the old upstream's pools
     * were retired. That connection must not be kept either: nothing will ever retire a pool made for an upstream
     * that is already gone, so an idle connection there lives until its idle timeout (here a minute).
     */
    @Test
    void aRequestAdmittedAfterItsUpstreamWasReplacedLeavesNoConnectionToTheOldEndpoint() throws Exception {
        String limits = """
                rate_limits:
                  one_at_a_time: { key: route, concurrent: 1, queue: 1, queue_timeout: 20s }
                """;
        String limited = "rate_limits: [one_at_a_time]";
        proxy = RunningProxy.start(yaml(limits + upstreamA("a", backendA) + route("/v1", "a", limited)));
        try (RawHttpClient holding = proxy.connect(); RawHttpClient queued = proxy.connect()) {
            holding.get("/v1/hold");
            ResponseHead head = holding.readHead();
            assertEquals(200, head.status(), head::toString);
            BodyStream held = holding.openBody(head);
            assertEquals("data: held", held.readEvent());
            queued.get("/v1/queued");
            Poll.until(() -> proxy.gateway().activeRequests() == 2, 5_000, () -> "the second request never started");

            proxy.gateway().reload(parse(yaml(limits + upstreamA("a", backendB) + route("/v1", "a", limited))));
            releaseHeld.countDown();
            assertEquals("data: released", held.readEvent());
            assertNull(held.readEvent());
            RawResponse response = queued.readResponse();
            assertEquals(200, response.status(), response::toString);

            Poll.until(() -> backendA.connections().stream().noneMatch(BackendConnection::isOpen), 5_000,
                    () -> "connections to the replaced endpoint stayed open: " + backendA.connections());
        }
    }

    @Test
    void rateLimitBucketsSurviveAReloadThatKeepsTheRuleAndStartFullWhenTheRuleChanges() throws Exception {
        ManualClock clock = new ManualClock();
        String twoPerMinute = "rate_limits:\n  per_ip: { key: client_ip, requests: 2/m }\n";
        String upstreams = upstreamA("a", backendA) + "  b:\n    endpoints: [\"" + backendB.url() + "\"]\n";
        String limited = route("/limited", "a", "rate_limits: [per_ip]");
        proxy = RunningProxy.start(yaml(twoPerMinute + upstreams + limited),
                new Streamgate.Options(new SimpleMeterRegistry(), clock));

        assertEquals(200, get("/limited/1").status());
        assertEquals(200, get("/limited/2").status());
        assertError(get("/limited/3"), 429, "rate_limit_exceeded");

        String otherRoute = "  - path_prefix: /other\n    upstream: b\n";
        proxy.gateway().reload(parse(yaml(twoPerMinute + upstreams + limited + otherRoute)));
        assertEquals("B GET /other/x", okBody(get("/other/x")), "the unrelated change was not applied");
        assertError(get("/limited/4"), 429, "rate_limit_exceeded");

        proxy.gateway().reload(parse(yaml(twoPerMinute.replace("2/m", "3/m") + upstreams + limited)));
        assertEquals("A GET /limited/5", okBody(get("/limited/5")), "a changed rule must start with a full bucket");
        assertEquals(List.of("/limited/1", "/limited/2", "/limited/5"), targets(backendA));
    }

    @Test
    void reloadsRegisterNoMeterTwice() throws Exception {
        proxy = RunningProxy.start(yaml(v1To("a")));
        ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        root.addAppender(logged);
        try {
            proxy.gateway().reload(parse(yaml(v1To("b"))));
            proxy.gateway().reload(parse(yaml(v1To("a"))));
        } finally {
            root.detachAppender(logged);
        }
        // Micrometer warned "This Gauge has been already registered" at the first reload: every upstream's gauges
        // were registered again.
        assertEquals(List.of(), logged.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
                .map(ILoggingEvent::getFormattedMessage).toList());
    }

    @Test
    void aRouteOnlyReloadNeedsNoRestart() throws Exception {
        proxy = RunningProxy.start(yaml(v1To("a")));
        Streamgate.ReloadResult result = proxy.gateway().reload(parse(yaml(v1To("b"))));
        assertEquals(List.of(), result.restartNeeded());
    }

    @Test
    void aNewListenAddressIsReportedAndTheGatewayKeepsItsPortWhileApplyingTheRest() throws Exception {
        proxy = RunningProxy.start(yaml(v1To("a")));
        int port = proxy.port();
        int otherPort = freePort();

        Streamgate.ReloadResult result = proxy.gateway().reload(parse(yaml(v1To("b")).replace("127.0.0.1:0", "127.0.0.1:" + otherPort)));

        assertEquals(List.of("server.listen"), result.restartNeeded());
        assertEquals(port, proxy.port());
        try (RawHttpClient client = RawHttpClient.connect(port)) {
            assertEquals("B GET /v1/x", okBody(client.get("/v1/x").readResponse()));
        }
        assertThrows(ConnectException.class, () -> RawHttpClient.connect(otherPort).close());
    }

    /**
     * The report compares with the settings the listener runs with, not with the last file: a listen change stays
     * pending (and reported) until a restart, and a file that goes back to the running address needs none.
     */
    @Test
    void aListenChangeStaysReportedUntilTheFileMatchesTheRunningListenerAgain() throws Exception {
        proxy = RunningProxy.start(yaml(v1To("a")));
        String moved = yaml(v1To("a")).replace("127.0.0.1:0", "127.0.0.1:" + freePort());
        assertEquals(List.of("server.listen"), proxy.gateway().reload(parse(moved)).restartNeeded());

        assertEquals(List.of("server.listen"), proxy.gateway().reload(parse(moved.replace("upstream: a", "upstream: b")))
                .restartNeeded(), "the listener still runs on the old address");
        assertEquals(List.of(), proxy.gateway().reload(parse(yaml(v1To("a")))).restartNeeded(),
                "the file is back at the running address");
    }

    /** What a reload reports as needing a restart must keep its running value, also for connections opened later. */
    @Test
    void requestLimitsApplyToNewConnectionsWithoutARestart() throws Exception {
        proxy = RunningProxy.start(yaml(v1To("a")));
        String shortLines = yaml(v1To("a")).replace("  io_threads: 1\n", "  io_threads: 1\n  limits: {max_request_line: 256}\n");
        String longTarget = "/v1/" + "x".repeat(1_000);
        try (RawHttpClient before = proxy.connect()) {
            assertEquals(200, before.get("/v1/warm").readResponse().status());

            assertEquals(List.of(), proxy.gateway().reload(parse(shortLines)).restartNeeded());

            try (RawHttpClient client = proxy.connect()) {
                assertEquals(414, client.get(longTarget).readResponse().status(), "a new connection has the new limit");
            }
            // A connection set up before the reload keeps the decoder it was built with.
            assertEquals(200, before.get(longTarget).readResponse().status());
        }
    }

    /** An embedding application's reload after close() (the event loops are gone) is refused in words and changes nothing. */
    @Test
    void aReloadAfterCloseIsRefusedAndChangesNothing() throws Exception {
        proxy = RunningProxy.start(yaml(v1To("a")));
        assertEquals("A GET /v1/x", okBody(get("/v1/x"))); // the loop now has a pool for upstream a
        ProxyConfig running = proxy.gateway().config();
        proxy.close();

        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> proxy.gateway().reload(parse(yaml(upstreamA("a", backendB) + route("/v1", "a", "")))));
        assertEquals("the gateway has stopped: reload refused", refused.getMessage());
        assertSame(running, proxy.gateway().config());
    }

    private RawResponse get(String target) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target).readResponse();
        }
    }

    private static String okBody(RawResponse response) {
        assertEquals(200, response.status(), response::toString);
        return response.bodyText();
    }

    private static List<String> targets(TestBackend backend) {
        return backend.received().stream().map(BackendExchange::uri).toList();
    }

    private static BackendConnection connectionThatReceived(TestBackend backend, String target) {
        return backend.received().stream().filter(e -> e.uri().equals(target)).findFirst()
                .orElseThrow(() -> new AssertionError(target + " never reached the backend: " + targets(backend)))
                .connection();
    }

    private static ProxyConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "reloaded.yaml");
    }

    /** A config on a free port with one event loop; {@code body} holds the other top-level sections. */
    private static String yaml(String body) {
        return """
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 1
                """ + body;
    }

    /** Upstreams a (backend A) and b (backend B), and a route /v1 to {@code upstream}. */
    private String v1To(String upstream) {
        return upstreamA("a", backendA) + "  b:\n    endpoints: [\"" + backendB.url() + "\"]\n" + route("/v1", upstream, "");
    }

    /**
     * The upstreams section starting with {@code name} pointing at {@code backend}; pooled connections stay idle for
     * a minute, so only a reload (never the idle timeout) closes them while a test runs.
     */
    private static String upstreamA(String name, TestBackend backend) {
        return "upstreams:\n  " + name + ":\n    endpoints: [\"" + backend.url() + "\"]\n    pool: {idle_timeout: 60s}\n";
    }

    private static String route(String prefix, String upstream, String extraLine) {
        return "routes:\n  - path_prefix: " + prefix + "\n    upstream: " + upstream + "\n"
                + (extraLine.isEmpty() ? "" : "    " + extraLine + "\n");
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
