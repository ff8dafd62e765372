package io.streamgate.http2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.Closer;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.Poll;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Streams reset at once, many times (the rapid-reset pattern), against the upstream connection pool. */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class Http2ResetBurstPoolTest {
    private final Closer closer = new Closer();
    private HeldResponder held;

    @AfterEach
    void closeAll() throws Exception {
        if (held != null) {
            held.releaseAll();
        }
        closer.close();
    }

    private RunningProxy proxy(TestBackend backend, String pool) throws Exception {
        return closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 1
                  h2c: true
                upstreams:
                  llm:
                    endpoints: ["%s"]
                    pool: {%s}
                routes:
                  - path_prefix: /
                    upstream: llm
                """.formatted(backend.url(), pool)));
    }

    /**
     * The only pooled connection is leased by a held response; streams that wait for a connection are reset at once.
     * Their places in the pool's wait list (max_pending) must be given back: a request after them waits and is served
     * on that same connection (their places were kept until acquire_timeout, and it was refused 503 at once).
     */
    @Test
    void resetStreamsWaitingForAPooledConnectionGiveTheirPlacesBack() throws Exception {
        held = new HeldResponder(Responders.requestLine());
        TestBackend backend = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = proxy(backend, "max_connections: 1, max_pending: 4, acquire_timeout: 20s");
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));
        H2Probe.Stream a = client.open(H2Probe.headers("GET", "/held"), true);
        held.awaitArrived(1, 5_000);
        try (AccessLogCapture log = AccessLogCapture.capture()) {
            for (int i = 0; i < 4; i++) {
                client.reset(client.open(H2Probe.headers("GET", "/reset-" + i), true));
            }
            for (int i = 0; i < 4; i++) {
                String path = "/reset-" + i;
                assertNotNull(log.awaitLine(l -> l.contains(path), 5_000), "no access log line for " + path);
            }
        }
        H2Probe.Stream next = client.open(H2Probe.headers("GET", "/next"), true);
        Poll.until(() -> next.outcome.isDone() || proxy.gateway().activeRequests() == 2, 5_000,
                () -> "/next neither answered nor in flight");
        held.release("/held");
        held.release("/next");
        assertEquals(200, a.outcome.get(5, TimeUnit.SECONDS).status());
        H2Probe.Outcome o = next.outcome.get(5, TimeUnit.SECONDS);
        assertEquals(200, o.status(), "the request after the reset waiters: " + o);
        assertEquals("GET /next", o.body());
        assertEquals(1, backend.acceptedConnections(), "max_connections: 1 must never open a second connection");
    }

    /**
     * 150 streams opened and reset at once: a connect begun for a stream already gone completes and its connection
     * idles in the pool for the next request (a stream that found one idle may have had its request sent before its
     * reset arrived; that connection is closed). The burst leaves idle connections, never more than max_connections
     * (see above), and idle_timeout closes every one of them: none is leaked.
     */
    @Test
    void aResetBurstLeavesNoBackendConnectionOpenPastTheIdleTimeout() throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(Responders.requestLine()).start());
        RunningProxy proxy = proxy(backend, "idle_timeout: 1s");
        H2Probe client = closer.add(new H2Probe(proxy.port(), true));
        try (AccessLogCapture log = AccessLogCapture.capture()) {
            for (int i = 0; i < 150; i++) {
                client.reset(client.open(H2Probe.headers("GET", "/reset-" + i), true));
            }
            assertNotNull(log.awaitLine(l -> l.contains("/reset-149 "), 5_000), "no access log line for the last reset");
        }
        Poll.until(() -> backend.connections().stream().noneMatch(BackendConnection::isOpen), 10_000,
                () -> "backend connections still open: " + backend.connections().stream().filter(BackendConnection::isOpen).count()
                        + " of " + backend.acceptedConnections());
    }
}
