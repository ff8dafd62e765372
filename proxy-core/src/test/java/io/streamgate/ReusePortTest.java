package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code server.reuse_port}: one listening socket per event loop, as the kernel sees it, on every transport; a port
 * some other listener holds is refused rather than shared, and closing the gateway closes every socket.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReusePortTest {
    private static TestBackend backend;

    @BeforeAll
    static void startBackend() throws Exception {
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
    }

    @AfterAll
    static void stopBackend() {
        backend.close();
    }

    private static String config(String transport, int port, boolean reusePort) {
        return """
                server:
                  listen: "127.0.0.1:%d"
                  transport: %s
                  io_threads: 3
                  reuse_port: %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(port, transport, reusePort, backend.url());
    }

    @ParameterizedTest
    @ValueSource(strings = {"nio", "epoll", "io_uring"})
    void everyEventLoopListensOnASocketOfItsOwnAndServes(String transport) throws Exception {
        assumeTrue(!transport.equals("epoll") || Epoll.isAvailable(), "epoll is not available here");
        assumeTrue(!transport.equals("io_uring") || IoUring.isAvailable(), "io_uring is not available here");
        try (RunningProxy proxy = RunningProxy.start(config(transport, 0, true))) {
            assertEquals(transport, proxy.gateway().transportName());
            assertEquals(3, listeningSockets(proxy.port()));
            // New connections land on the three sockets by a hash of their source port; each is served by the loop
            // whose socket accepted it.
            for (int i = 0; i < 40; i++) {
                try (RawHttpClient client = proxy.connect()) {
                    RawResponse r = client.get("/n/" + i).readResponse();
                    assertEquals(200, r.status());
                    assertEquals("GET /n/" + i, r.bodyText());
                }
            }
        }
    }

    @Test
    void withoutItTheGatewayListensOnOneSocket() throws Exception {
        try (RunningProxy proxy = RunningProxy.start(config("auto", 0, false))) {
            assertEquals(1, listeningSockets(proxy.port()));
        }
    }

    /**
     * The kernel lets any process of the same user add a socket to a port whose sockets all set SO_REUSEPORT; a
     * second gateway started by mistake on the same port must fail as it would without the option, not take part
     * of the first one's connections.
     */
    @Test
    void aPortAnotherGatewayListensOnIsRefusedNotShared() throws Exception {
        try (RunningProxy first = RunningProxy.start(config("auto", 0, true))) {
            int port = first.port();
            for (boolean reusePort : new boolean[] {true, false}) {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> RunningProxy.start(config("auto", port, reusePort)).close());
                assertTrue(e.getMessage().startsWith("cannot listen on 127.0.0.1:" + port + ": "), e.getMessage());
                assertTrue(e.getMessage().toLowerCase(Locale.ROOT).contains("in use"), e.getMessage());
            }
            assertEquals(3, listeningSockets(port));
            try (RawHttpClient client = first.connect()) {
                assertEquals("GET /still", client.get("/still").readResponse().bodyText());
            }
        }
    }

    @Test
    void aPortHeldByAnOrdinarySocketIsRefused() throws Exception {
        try (ServerSocket held = new ServerSocket()) {
            held.bind(new InetSocketAddress("127.0.0.1", 0));
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> RunningProxy.start(config("auto", held.getLocalPort(), true)).close());
            assertTrue(e.getMessage().startsWith("cannot listen on 127.0.0.1:" + held.getLocalPort() + ": "), e.getMessage());
        }
    }

    @Test
    void closingTheGatewayClosesEverySocket() throws Exception {
        int port;
        try (RunningProxy proxy = RunningProxy.start(config("auto", 0, true))) {
            port = proxy.port();
            try (RawHttpClient client = proxy.connect()) {
                assertEquals(200, client.get("/x").readResponse().status());
            }
        }
        assertEquals(0, listeningSockets(port));
        try (ServerSocket again = new ServerSocket()) {
            again.setReuseAddress(true); // the closed connection's TIME_WAIT does not count; a listener would
            again.bind(new InetSocketAddress("127.0.0.1", port));
        }
    }

    @Test
    void changingItNeedsARestartAndTheSocketsStay() throws Exception {
        try (RunningProxy proxy = RunningProxy.start(config("auto", 0, true))) {
            Streamgate.ReloadResult result = proxy.gateway().reload(ConfigLoader.parse(config("auto", 0, false), "test.yaml"));
            assertEquals(List.of("server.reuse_port"), result.restartNeeded());
            assertEquals(3, listeningSockets(proxy.port()));
        }
    }

    @Test
    void aValueThatIsNotABooleanIsReportedAtItsLine() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                config("auto", 0, true).replace("reuse_port: true", "reuse_port: sometimes"), "test.yaml"));
        assertEquals(5, e.line(), e.getMessage());
        assertEquals("server.reuse_port", e.keyPath(), e.getMessage());
    }

    /** Sockets in LISTEN state on {@code port}, as /proc/net/tcp and tcp6 list them. */
    private static long listeningSockets(int port) throws IOException {
        String local = String.format(Locale.ROOT, ":%04X", port);
        long count = 0;
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path path = Path.of(table);
            if (!Files.exists(path)) {
                continue;
            }
            for (String line : Files.readAllLines(path)) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 3 && f[1].endsWith(local) && f[3].equals("0A")) {
                    count++;
                }
            }
        }
        return count;
    }
}
