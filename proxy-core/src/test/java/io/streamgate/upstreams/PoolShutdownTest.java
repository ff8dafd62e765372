package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.Closer;
import io.streamgate.testing.HeldResponder;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Shutdown drains requests in flight, those waiting in an endpoint pool's wait list for a connection included: they
 * get the connection the request ahead of them gives back, not a 503 the moment shutdown starts.
 */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class PoolShutdownTest {
    private final Closer closer = new Closer();
    private final HeldResponder held = new HeldResponder(Responders.requestLineAndBody());

    @AfterEach
    void closeAll() throws Exception {
        held.releaseAll();
        closer.close();
    }

    @Test
    void aRequestWaitingForAPooledConnectionIsServedDuringTheDrain() throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(held).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                  io_threads: 1
                upstreams:
                  llm:
                    endpoints: ["%s"]
                    pool: {max_connections: 1}
                routes:
                  - path_prefix: /
                    upstream: llm
                """.formatted(backend.url())));
        RawHttpClient first = closer.add(proxy.connect());
        first.get("/first");
        held.awaitArrived(1, 5_000);
        RawHttpClient second = closer.add(proxy.connect());
        second.get("/second"); // waits for the pool's one connection
        Poll.until(() -> proxy.gateway().activeRequests() == 2, 5_000, () -> "the second request is not in flight");
        CompletableFuture<Void> closed = CompletableFuture.runAsync(() -> proxy.gateway().close(Duration.ofSeconds(10)));
        Thread.sleep(300); // shutdown has begun: idle connections closed, the drain waits
        held.release("/first");
        assertEquals(200, first.readResponse().status());
        held.release("/second");
        RawResponse response = second.readResponse();
        assertEquals(200, response.status(), response::toString);
        closed.get(15, TimeUnit.SECONDS);
    }
}
