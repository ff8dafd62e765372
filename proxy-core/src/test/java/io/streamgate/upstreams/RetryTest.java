package io.streamgate.upstreams;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.ReceivedBody;
import io.streamgate.testing.RefusingPort;
import io.streamgate.testing.ResponseHead;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestBackend.Responder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Retries to another endpoint: a request whose attempt failed before any response byte reached the client (connect
 * failure, reset before the headers, a status listed in {@code retries.on}) is sent again elsewhere, when its body is
 * still held in full; a response the client has begun to receive never is. The good backend answers
 * "b METHOD URI", so the client's answer tells which endpoint served it, and the backends' records tell which ones
 * were tried.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RetryTest {
    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    private TestBackend backend(Responder responder) {
        return closer.add(TestBackend.builder().respond(responder).start());
    }

    /** A gateway over one upstream "pool" with the given YAML under it, routing everything there. */
    private RunningProxy proxy(String upstreamYaml) throws Exception {
        return closer.add(RunningProxy.withUpstream("pool", upstreamYaml));
    }

    /** A port on 127.0.0.1 where connecting is refused, held until the test ends. */
    private int closedPort() throws Exception {
        return closer.add(RefusingPort.open()).port();
    }

    private static List<String> uris(TestBackend backend) {
        return backend.received().stream().map(BackendExchange::uri).toList();
    }

    private static void assertServedByB(RawResponse response, String method, String target) {
        assertEquals(200, response.status(), () -> target + " must not fail: " + response);
        assertEquals("b " + method + " " + target, response.bodyText(), () -> target + " answered " + response);
    }

    @Test
    void requestsAfterAnEndpointDiedSeeNoError() throws Exception {
        TestBackend a = backend(Responders.named("a"));
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                """.formatted(a.url(), b.url()));
        RawHttpClient client = closer.add(proxy.connect());
        List<String> before = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            RawResponse response = client.get("/before/" + i).readResponse();
            assertEquals(200, response.status(), response::toString);
            before.add(response.bodyText().substring(0, 1));
        }
        assertTrue(before.contains("a") && before.contains("b"), () -> "both endpoints should serve at first: " + before);

        a.close(); // the process is gone: its pooled connections close, new connects are refused
        for (int i = 0; i < 20; i++) {
            String target = "/after/" + i;
            assertServedByB(client.get(target).readResponse(), "GET", target);
        }
        // A client that connects afresh is served too.
        try (RawHttpClient fresh = proxy.connect()) {
            assertServedByB(fresh.get("/fresh").readResponse(), "GET", "/fresh");
        }
    }

    @Test
    void aRefusedConnectIsRetriedOnTheOtherEndpoint() throws Exception {
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints: ["http://127.0.0.1:%d", "%s"]
                """.formatted(closedPort(), b.url()));
        RawHttpClient client = closer.add(proxy.connect());
        for (int i = 0; i < 10; i++) {
            String target = "/r/" + i;
            String body = "{\"n\":" + i + "}";
            assertServedByB(client.post(target, body).readResponse(), "POST", target);
            assertEquals(body, bodyAt(b, target).text(), "the retried request must carry its body");
        }
        assertEquals(10, b.received().size(), () -> "each request reaches b exactly once: " + uris(b));
    }

    @Test
    void aResetBeforeTheHeadersIsRetriedWithTheWholeBody() throws Exception {
        TestBackend a = backend(Responders.reset());
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                """.formatted(a.url(), b.url()));
        RawHttpClient client = closer.add(proxy.connect());
        for (int i = 0; i < 6; i++) {
            String target = "/reset/" + i;
            String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hello " + i + "\"}]}";
            assertServedByB(client.post(target, body, "Content-Type: application/json").readResponse(), "POST", target);
            assertEquals(body, bodyAt(b, target).text(), "the retried request must carry its whole body");
        }
        assertFalse(a.received().isEmpty(), "no request was ever tried on a: the retry was not exercised");
        assertEquals(6, b.received().size(), () -> "each request reaches b exactly once: " + uris(b));
    }

    @Test
    void aStatusListedInRetriesOnIsRetriedOnTheOtherEndpoint() throws Exception {
        TestBackend a = backend(Responders.text(503, "a is busy"));
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                retries: {on: [connect_failure, reset, 503]}
                """.formatted(a.url(), b.url()));
        RawHttpClient client = closer.add(proxy.connect());
        for (int i = 0; i < 4; i++) {
            String target = "/busy/" + i;
            assertServedByB(client.post(target, "{\"n\":" + i + "}").readResponse(), "POST", target);
        }
        assertFalse(a.received().isEmpty(), "no request was ever tried on a: the retry was not exercised");
        for (String tried : uris(a)) {
            assertTrue(uris(b).contains(tried), () -> tried + " got 503 from a and was not retried on b: " + uris(b));
        }
    }

    @Test
    void aStatusNotListedInRetriesOnReachesTheClient() throws Exception {
        TestBackend a = backend(Responders.text(503, "a is busy"));
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                """.formatted(a.url(), b.url()));
        RawHttpClient client = closer.add(proxy.connect());
        int fromA = 0;
        for (int i = 0; i < 4; i++) {
            RawResponse response = client.get("/busy/" + i).readResponse();
            if (response.status() == 503) {
                assertEquals("a is busy", response.bodyText(), "the backend's own 503 is passed on");
                fromA++;
            } else {
                assertServedByB(response, "GET", "/busy/" + i);
            }
        }
        assertEquals(a.received().size(), fromA, "by default (on: [connect_failure, reset]) a 503 is not retried");
        assertTrue(fromA >= 1, "a never got a request");
    }

    @Test
    void aBodyLargerThanTheReplayBufferIsNotRetried() throws Exception {
        TestBackend a = backend(Responders.text(503, "a is busy"));
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                replay_buffer: 1KiB
                retries: {on: [connect_failure, reset, 503]}
                """.formatted(a.url(), b.url()));
        String big = "{\"prompt\":\"" + "x".repeat(8 * 1024) + "\"}";
        List<String> refused = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String target = "/big/" + i;
            try (RawHttpClient client = proxy.connect()) {
                RawResponse response = client.post(target, big).readResponse();
                if (response.status() == 200) {
                    assertServedByB(response, "POST", target);
                } else {
                    assertTrue(response.status() == 502 || response.status() == 503,
                            () -> target + ": a failed attempt with a body beyond the replay buffer gives 502/503: " + response);
                    refused.add(target);
                }
            }
        }
        assertFalse(a.received().isEmpty(), "a never got a request");
        assertEquals(uris(a), refused, "every request a failed must reach the client as an error, not be retried");
        for (String target : refused) {
            assertFalse(uris(b).contains(target), () -> target + " was re-sent to b though its body was not held");
        }
        assertEquals(big.length(), bodyAt(a, uris(a).get(0)).length(), "a got the whole body");
    }

    @Test
    void aResponseTheClientHasBegunToReceiveIsNeverRetried() throws Exception {
        Responder cutAfterHeaders = exchange -> {
            exchange.awaitBody(30);
            if (exchange.uri().equals("/marker")) {
                exchange.respond(200, "text/plain", "marker");
                return;
            }
            exchange.startChunked(200, "text/event-stream");
            exchange.write("data: partial\n\n");
            exchange.die();
        };
        TestBackend a = backend(cutAfterHeaders);
        TestBackend b = backend(cutAfterHeaders);
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                retries: {attempts: 3, on: [connect_failure, reset, 502, 503]}
                """.formatted(a.url(), b.url()));
        try (RawHttpClient client = proxy.connect()) {
            client.post("/v1/chat/completions", "{\"stream\":true}");
            ResponseHead head = client.readHead();
            assertEquals(200, head.status());
            var body = client.openBody(head);
            body.readAllBytes();
            assertFalse(body.isComplete(), "the client must see the stream cut, not a finished one");
        }
        // Any retry would have been sent before the gateway gave up on the client connection; a request sent
        // after it finds the backends' records settled.
        try (RawHttpClient client = proxy.connect()) {
            assertEquals("marker", client.get("/marker").readResponse().bodyText());
        }
        List<String> all = new ArrayList<>(uris(a));
        all.addAll(uris(b));
        assertEquals(1, all.stream().filter("/v1/chat/completions"::equals).count(),
                () -> "a started response must never be retried; backends saw " + all);
    }

    @Test
    void oneAttemptTurnsRetriesOff() throws Exception {
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints: ["http://127.0.0.1:%d", "%s"]
                retries: {attempts: 1}
                """.formatted(closedPort(), b.url()));
        assertSomeRequestFailsOnTheClosedPort(proxy, b);
    }

    @Test
    void aZeroBudgetWithoutMinimumAllowsNoRetry() throws Exception {
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints: ["http://127.0.0.1:%d", "%s"]
                retries: {budget: 0%%, min_retries: 0}
                """.formatted(closedPort(), b.url()));
        assertSomeRequestFailsOnTheClosedPort(proxy, b);
    }

    /**
     * A status listed in retries.on that cannot be retried because the retry budget is spent reaches the client as
     * the backend sent it, as it does on the last attempt (and as nginx and Envoy pass the last answer on): the
     * gateway's own 502 took its place, losing the backend's status, body and Retry-After.
     */
    @Test
    void aRetriableStatusBeyondTheBudgetReachesTheClientAsSent() throws Exception {
        TestBackend a = backend(Responders.text(503, "a is busy"));
        TestBackend b = backend(Responders.named("b"));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                retries: {on: [connect_failure, reset, 503], budget: 0%%, min_retries: 0}
                """.formatted(a.url(), b.url()));
        int fromA = 0;
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 4; i++) {
                String target = "/busy/" + i;
                RawResponse response = client.get(target).readResponse();
                if (response.status() == 200) {
                    assertServedByB(response, "GET", target);
                } else {
                    assertEquals(503, response.status(), () -> target + ": the budget allows no retry, so a's answer: " + response);
                    assertEquals("a is busy", response.bodyText(), () -> target + ": a's own body: " + response);
                    fromA++;
                }
            }
        }
        assertEquals(a.received().size(), fromA, "every request a answered reached the client as a's 503, none retried");
        assertTrue(fromA >= 1, "a never got a request");
    }

    /** Without retries, a request meeting the refused port is a 502; the rest are b's. */
    private static void assertSomeRequestFailsOnTheClosedPort(RunningProxy proxy, TestBackend b) throws Exception {
        int failed = 0;
        try (RawHttpClient client = proxy.connect()) {
            for (int i = 0; i < 6; i++) {
                String target = "/once/" + i;
                RawResponse response = client.get(target).readResponse();
                if (response.status() == 502) {
                    assertError(response, 502, "upstream_unavailable");
                    failed++;
                } else {
                    assertServedByB(response, "GET", target);
                }
            }
        }
        assertTrue(failed >= 1, "no request failed on the refused endpoint: it was retried (or never chosen)");
        assertEquals(6 - failed, b.received().size(), () -> "b got " + uris(b));
    }

    private static ReceivedBody bodyAt(TestBackend backend, String target) throws Exception {
        BackendExchange exchange = backend.received().stream().filter(e -> e.uri().equals(target)).findFirst()
                .orElseThrow(() -> new AssertionError(target + " never reached the backend: " + uris(backend)));
        return exchange.awaitBody(5);
    }
}
