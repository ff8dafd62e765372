package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code timeouts.first_byte_failover}: an endpoint that has not sent response headers within the budget is given
 * up on (its connection closed, so the replica stops working on the request) and the request is retried on another
 * endpoint. The silent backend reads each request and never answers; the other answers "b METHOD URI". The route's
 * ordinary {@code first_byte} timeout stays at its default (10m), so only the failover can rescue a request.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class FirstByteFailoverTest {
    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    private RunningProxy proxy(TestBackend silent, TestBackend b, String routeTimeouts) throws Exception {
        return closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  pool:
                    endpoints: ["%s", "%s"]
                routes:
                  - path_prefix: /
                    upstream: pool
                    timeouts: %s
                """.formatted(silent.url(), b.url(), routeTimeouts)));
    }

    @Test
    void aSilentEndpointIsAbandonedAfterTheBudgetAndTheOtherAnswers() throws Exception {
        TestBackend silent = closer.add(TestBackend.builder().respond(Responders.silent()).start());
        TestBackend b = closer.add(TestBackend.builder().respond(Responders.named("b")).start());
        RunningProxy proxy = proxy(silent, b, "{first_byte_failover: 300ms}");

        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 4; i++) {
                String target = "/v1/chat/completions?n=" + i;
                String body = "{\"model\":\"m\",\"n\":" + i + "}";
                RawResponse response = client.post(target, body, "Content-Type: application/json").readResponse();
                assertEquals(200, response.status(), () -> target + ": " + response);
                assertEquals("b POST " + target, response.bodyText());
            }
        }
        List<BackendExchange> abandoned = silent.received();
        assertFalse(abandoned.isEmpty(), "no request was sent to the silent endpoint: the failover was not exercised");
        assertEquals(4, b.received().size(), "every request is answered by b exactly once");
        for (BackendExchange exchange : abandoned) {
            // The silent endpoint sees its connection closed: the gateway cancelled the attempt.
            exchange.connection().closed().get(5, TimeUnit.SECONDS);
            assertTrue(b.received().stream().anyMatch(e -> e.uri().equals(exchange.uri())),
                    () -> exchange.uri() + " was abandoned on the silent endpoint but never sent to b");
            assertEquals(exchange.awaitBody(5).sha256(), bodyAt(b, exchange.uri()).sha256(),
                    "the failover re-sends the same body");
        }
    }

    @Test
    void withRetriesOffTheBudgetDoesNotApplyAndTheFirstByteTimeoutAnswers() throws Exception {
        TestBackend silent = closer.add(TestBackend.builder().respond(Responders.silent()).start());
        TestBackend b = closer.add(TestBackend.builder().respond(Responders.named("b")).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  pool:
                    endpoints: ["%s", "%s"]
                    retries: {attempts: 1}
                routes:
                  - path_prefix: /
                    upstream: pool
                    timeouts: {first_byte_failover: 300ms, first_byte: 2s}
                """.formatted(silent.url(), b.url())));
        int timedOut = 0;
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 2; i++) {
                String target = "/once/" + i;
                RawResponse response = client.get(target).readResponse();
                if (response.status() == 504 || response.status() == 502) {
                    assertTrue(response.bodyText().contains("\"error\""), () -> "a gateway error: " + response);
                    timedOut++;
                } else {
                    assertEquals("b GET " + target, response.bodyText(), response::toString);
                }
            }
        }
        // Failover is a retry: with one attempt, a request on the silent endpoint ends in a gateway error (504 at
        // first_byte, or when the failover budget cancels it), never in b's answer.
        assertEquals(silent.received().size(), timedOut, "each request sent to the silent endpoint ends in an error");
        assertTrue(timedOut >= 1, "no request went to the silent endpoint");
        assertTrue(b.received().stream().noneMatch(e -> silent.received().stream().anyMatch(s -> s.uri().equals(e.uri()))),
                "a request was failed over though retries are off");
    }

    /**
     * When the failover cannot retry (here: the upstream's only endpoint), the attempt is not cancelled: the request
     * waits on, and the endpoint's answer, a 200, is what counts for its health. It used to be recorded as a failure
     * when the failover time passed, so an endpoint answering every request, slowly, had its circuit breaker opened
     * and then refused everything with 503.
     */
    @Test
    void aSlowAnswerThatCouldNotFailOverIsNoFailureOfItsEndpoint() throws Exception {
        TestBackend slow = closer.add(TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(30);
            Thread.sleep(400);
            exchange.respond(200, "text/plain", "slow " + exchange.uri());
        }).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  pool:
                    endpoints: ["%s"]
                    circuit_breaker: {failure_rate: 50%%, minimum_requests: 2, window: 30s, open_for: 30s}
                routes:
                  - path_prefix: /
                    upstream: pool
                    timeouts: {first_byte_failover: 100ms, first_byte: 5s}
                """.formatted(slow.url())));
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 4; i++) {
                String target = "/slow/" + i;
                RawResponse response = client.get(target).readResponse();
                assertEquals(200, response.status(), () -> target + ": the endpoint answers every request: " + response);
                assertEquals("slow " + target, response.bodyText());
            }
        }
        assertEquals("healthy", io.streamgate.testing.EndpointStates.state(proxy.gateway(), slow.port()),
                "four 200s are no failures");
    }

    private static io.streamgate.testing.ReceivedBody bodyAt(TestBackend backend, String uri) throws Exception {
        return backend.received().stream().filter(e -> e.uri().equals(uri)).findFirst()
                .orElseThrow(() -> new AssertionError(uri + " never reached " + backend.url()))
                .awaitBody(5);
    }
}
