package io.streamgate.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * Clients that send a request and reset the connection at once, before the gateway has looked at it (impatient
 * clients, scanners). On io_uring such a connection may come up with no peer address: it is closed quietly, without
 * a warning per connection for anyone to flood the log with, and the listener goes on serving.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ResetAtAcceptTest {
    private static final byte[] REQUEST = "GET /x HTTP/1.1\r\nHost: test.local\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    private TestBackend backend;
    private RunningProxy proxy;

    @AfterEach
    void stop() throws Exception {
        root.detachAppender(logged);
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    @Test
    void connectionsResetRightAfterConnectingAreClosedWithoutAWarning() throws Exception {
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 2
                  h2c: true
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """.formatted(backend.url()));
        logged.start();
        root.addAppender(logged);

        // From several threads at once onto two event loops, so that resets land before the accepted channels are
        // registered on their loops (on io_uring this listener, h2c as in ChurnTest where it showed, met it in every
        // run; the plain HTTP/1.1 one did not in the one run tried).
        ExecutorService clients = Executors.newFixedThreadPool(8);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            done.add(clients.submit(() -> {
                for (int i = 0; i < 150; i++) {
                    try (Socket socket = new Socket()) {
                        socket.connect(new InetSocketAddress("127.0.0.1", proxy.port()), 5_000);
                        socket.getOutputStream().write(REQUEST);
                        socket.setSoLinger(true, 0); // close with a reset
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get(30, TimeUnit.SECONDS);
        }
        clients.shutdown();

        try (RawHttpClient client = proxy.connect()) {
            assertEquals(200, client.get("/after").readResponse().status(), "the listener still serves");
        }
        Poll.until(() -> openConnections() == 0, 5_000, () -> openConnections() + " client connections still open");
        List<String> warnings = logged.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
                .map(e -> e.getLoggerName() + ": " + e.getFormattedMessage()).distinct().toList();
        assertEquals(List.of(), warnings);
    }

    private double openConnections() {
        return proxy.gateway().meters().get("streamgate.connections.active").gauge().value();
    }
}
