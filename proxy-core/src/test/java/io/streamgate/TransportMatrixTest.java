package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.BodyStream;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The relay's core promises on every transport and with one or several event loops: the transports differ in how
 * they signal reads, closes and writability, and the explicit read management of the relay depends on all three.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TransportMatrixTest {

    @ParameterizedTest(name = "{0}, {1} event loop(s)")
    @CsvSource({"nio, 1", "nio, 2", "epoll, 1", "epoll, 2", "io_uring, 1", "io_uring, 2"})
    void streamsInLockStepReusesConnectionsAndAbortsWithTheClient(String transport, int loops) throws Exception {
        assumeTrue(!transport.equals("epoll") || Epoll.isAvailable(), "epoll is not available here");
        assumeTrue(!transport.equals("io_uring") || IoUring.isAvailable(), "io_uring is not available here");
        BlockingQueue<Integer> received = new LinkedBlockingQueue<>();
        try (TestBackend backend = TestBackend.builder().respond(ex -> {
                 if (ex.uri().equals("/lockstep")) {
                     ex.startChunked(200, "text/event-stream");
                     for (int k = 0; k < 10; k++) {
                         ex.write("data: " + k + "\n\n");
                         Integer ack = received.poll(5, TimeUnit.SECONDS);
                         if (ack == null || ack != k) {
                             throw new AssertionError("event " + k + " was not relayed on its own");
                         }
                     }
                     ex.end();
                 } else if (ex.uri().equals("/endless")) {
                     ex.startChunked(200, "text/event-stream");
                     for (int i = 0; i < 100; i++) {
                         ex.write("data: tick\n\n");
                         try {
                             ex.connection().closed().get(50, TimeUnit.MILLISECONDS);
                             return;
                         } catch (TimeoutException open) {
                             // keep generating
                         }
                     }
                     ex.end();
                 } else {
                     Responders.requestLine().respond(ex);
                 }
             }).start();
             RunningProxy proxy = RunningProxy.start("""
                     server:
                       listen: "127.0.0.1:0"
                       transport: %s
                       io_threads: %d
                     upstreams:
                       backend:
                         endpoints: ["%s"]
                     routes:
                       - path_prefix: /
                         upstream: backend
                     """.formatted(transport, loops, backend.url()))) {
            assertEquals(transport, proxy.gateway().transportName());

            try (RawHttpClient client = proxy.connect()) {
                client.get("/lockstep");
                BodyStream body = client.openBody(client.readHead());
                for (int k = 0; k < 10; k++) {
                    assertEquals("data: " + k, body.readEvent());
                    received.add(k);
                }
                assertEquals(null, body.readEvent());
                assertTrue(body.isComplete());

                for (int i = 0; i < 50; i++) {
                    RawResponse r = client.get("/ping/" + i).readResponse();
                    assertEquals("GET /ping/" + i, r.bodyText());
                }
            }
            assertTrue(backend.acceptedConnections() <= 2, "connections: " + backend.acceptedConnections());

            BackendConnection streaming;
            try (RawHttpClient client = proxy.connect()) {
                client.get("/endless");
                ResponseHead head = client.readHead();
                assertEquals("data: tick", client.openBody(head).readEvent());
                streaming = backend.received().stream().filter(e -> e.uri().equals("/endless")).findFirst().orElseThrow().connection();
            }
            streaming.closed().get(2, TimeUnit.SECONDS);
            assertTrue(backend.failures().isEmpty(), () -> "backend: " + backend.failures());
        }
    }
}
