package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendConnection;
import io.streamgate.testing.BodyStream;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** timeouts.total bounds the whole exchange: 504 before the response started, a cut stream after. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TotalTimeoutTest {
    private TestBackend backend;
    private RunningProxy proxy;

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    /** Events every 200 ms keep the idle timeout happy; only the total timeout can end this stream early. */
    @Test
    void aStreamStillRunningAtTheTotalTimeoutIsCut() throws Exception {
        backend = TestBackend.builder().respond(ex -> {
            ex.startChunked(200, "text/event-stream");
            for (int i = 0; i < 15; i++) {
                ex.write("data: " + i + "\n\n");
                try {
                    ex.connection().closed().get(200, TimeUnit.MILLISECONDS);
                    return;
                } catch (TimeoutException stillOpen) {
                    // next event
                }
            }
            ex.end();
        }).start();
        proxy = RunningProxy.forwardingTo(backend, "timeouts:", "  total: 1s", "  idle: 5s");

        try (RawHttpClient client = proxy.connect()) {
            long start = System.nanoTime();
            client.get("/v1/stream");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            BodyStream body = client.openBody(head);
            BackendConnection upstream = backend.takeExchange().connection();
            int events = 0;
            while (body.readEvent() != null) {
                events++;
            }
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertFalse(body.isComplete(), "a stream cut by the total timeout must not end with the terminating chunk");
            assertTrue(body.connectionEnded());
            assertTrue(elapsedMs >= 900, "cut after " + elapsedMs + " ms, before the 1s total timeout");
            assertTrue(elapsedMs < 2_500, "cut after " + elapsedMs + " ms with a 1s total timeout (the stream lasts 3 s)");
            assertTrue(events >= 2 && events < 15, "got " + events + " of 15 events");
            upstream.closed().get(2, TimeUnit.SECONDS);
        }
    }

    @Test
    void aSilentBackendGets504AtTheTotalTimeout() throws Exception {
        backend = TestBackend.builder().respond(Responders.silent()).start();
        proxy = RunningProxy.forwardingTo(backend, "timeouts:", "  total: 1s", "  first_byte: 1m");
        try (RawHttpClient client = proxy.connect()) {
            long start = System.nanoTime();
            RawResponse response = client.get("/v1/models").readResponse();
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertError(response, 504, "upstream_timeout");
            assertTrue(elapsedMs >= 900, "504 after " + elapsedMs + " ms, before the 1s total timeout");
            assertTrue(elapsedMs < 3_000, "504 after " + elapsedMs + " ms with a 1s total timeout");
        }
        backend.takeExchange().connection().closed().get(2, TimeUnit.SECONDS);
    }
}
