package io.streamgate.upstreams;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.EndpointStates;
import io.streamgate.testing.InFlightRequest;
import io.streamgate.testing.RawBackend;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RefusalAssert;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Passive health: outlier ejection (consecutive failures take an endpoint out for a while) and the circuit breaker
 * (a failure rate over a window opens it; after {@code open_for} trial requests decide whether it closes). Backends
 * fail with a 500 while the test's switch says so; otherwise they answer "NAME URI". 500 is not in the default
 * {@code retries.on}, so a failure reaches the client and each one is counted exactly once at the backend.
 *
 * <p>Time-based checks only ever assert what must hold <em>within</em> a window measured by the test itself (an
 * ejection of 2s is checked only by requests sent less than 1s after it began), so a slow machine makes a check
 * weaker, never wrong.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class OutlierAndBreakerTest {
    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /** Answers 500 "NAME failing" while {@code failing} holds, else 200 "NAME URI". */
    private TestBackend backend(String name, AtomicBoolean failing) {
        return closer.add(TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(30);
            if (failing.get()) {
                exchange.respond(500, "text/plain", name + " failing");
            } else {
                exchange.respond(200, "text/plain", name + " " + exchange.uri());
            }
        }).start());
    }

    private RunningProxy proxy(String upstreamYaml) throws Exception {
        return closer.add(RunningProxy.withUpstream("pool", upstreamYaml));
    }

    private static List<String> uris(TestBackend backend) {
        return backend.received().stream().map(BackendExchange::uri).toList();
    }

    @Test
    void threeFailuresInARowEjectAnEndpointUntilItsEjectionEnds() throws Exception {
        AtomicBoolean aFailing = new AtomicBoolean(true);
        TestBackend a = backend("a", aFailing);
        TestBackend b = backend("b", new AtomicBoolean(false));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                outlier_detection: {consecutive_failures: 3, base_ejection: 2s}
                """.formatted(a.url(), b.url()));
        RawHttpClient client = closer.add(proxy.connect());

        // Until a failed three times, requests alternate; a's failures reach the client (500 is not retried).
        int n = 0;
        while (a.received().size() < 3) {
            assertTrue(n < 20, () -> "a got only " + a.received().size() + " requests of 20: " + uris(b));
            RawResponse response = client.get("/r/" + n).readResponse();
            if (response.status() == 500) {
                assertEquals("a failing", response.bodyText());
            } else {
                assertEquals("b /r/" + n, response.bodyText(), response::toString);
            }
            n++;
        }
        long ejectedAt = System.nanoTime();

        EndpointStates.awaitState(proxy.gateway(), a.port(), "ejected", 900);
        assertFalse(EndpointStates.available(proxy.gateway(), a.port()), "an ejected endpoint is not available");

        // Within the first second of the 2s ejection, every request goes to b.
        int checked = 0;
        while (TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - ejectedAt) < 1_000 && checked < 10) {
            String target = "/ejected/" + checked;
            RawResponse response = client.get(target).readResponse();
            assertEquals(200, response.status(), () -> target + " went to the ejected a: " + response);
            assertEquals("b " + target, response.bodyText());
            checked++;
        }
        assertTrue(checked >= 1, "no request could be sent during the ejection");
        assertEquals(3, a.received().size(), () -> "the ejected endpoint got requests: " + uris(a));

        // a recovers; once the ejection ends it takes requests again.
        aFailing.set(false);
        List<String> answers = new ArrayList<>();
        int[] k = {0};
        Poll.until(() -> {
            String target = "/back/" + k[0]++;
            RawResponse response = get(client, target);
            assertEquals(200, response.status(), response::toString);
            answers.add(response.bodyText());
            return response.bodyText().startsWith("a ");
        }, 10_000, () -> "a never got traffic again after its ejection: " + answers);
        EndpointStates.awaitState(proxy.gateway(), a.port(), "healthy", 5_000);
    }

    /**
     * A backend that answers something other than HTTP (here an SSH banner, as from a port taken by the wrong
     * service) fails each request with a 502 of the gateway's; like a reset, each counts against it.
     */
    @Test
    void garbageInsteadOfAResponseCountsAsAFailureAndEjectsTheEndpoint() throws Exception {
        RawBackend garbage = closer.add(new RawBackend((request, out) -> {
            out.write("SSH-2.0-OpenSSH_9.6\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }));
        TestBackend b = backend("b", new AtomicBoolean(false));
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                outlier_detection: {consecutive_failures: 3, base_ejection: 30s}
                """.formatted(garbage.url(), b.url()));
        int garbagePort = URI.create(garbage.url()).getPort();
        RawHttpClient client = closer.add(proxy.connect());

        int n = 0;
        while (garbage.received().size() < 3) {
            assertTrue(n < 20, () -> "the garbage backend got only " + garbage.received().size() + " requests of 20");
            RawResponse response = get(client, "/r/" + n);
            if (response.status() == 502) {
                assertError(response, 502, "upstream_bad_response");
            } else {
                assertEquals("b /r/" + n, response.bodyText(), response::toString);
            }
            n++;
        }

        EndpointStates.awaitState(proxy.gateway(), garbagePort, "ejected", 2_000);
        for (int i = 0; i < 5; i++) {
            String target = "/after/" + i;
            RawResponse response = get(client, target);
            assertEquals(200, response.status(), () -> target + " went to the ejected endpoint: " + response);
            assertEquals("b " + target, response.bodyText());
        }
        assertEquals(3, garbage.received().size(), "the ejected endpoint got requests");
    }

    @Test
    void anOpenBreakerAnswers503ItselfThenLetsOneTrialThroughAndClosesWhenItSucceeds() throws Exception {
        AtomicBoolean failing = new AtomicBoolean(true);
        CountDownLatch releaseTrial = new CountDownLatch(1);
        TestBackend only = closer.add(TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(30);
            if (failing.get()) {
                exchange.respond(500, "text/plain", "failing");
                return;
            }
            if (exchange.uri().startsWith("/trial/")) {
                releaseTrial.await(20, TimeUnit.SECONDS);
            }
            exchange.respond(200, "text/plain", "ok " + exchange.uri());
        }).start());
        RunningProxy proxy = proxy("""
                endpoints: ["%s"]
                outlier_detection: {consecutive_failures: 0}
                circuit_breaker: {failure_rate: 50%%, minimum_requests: 4, window: 10s, open_for: 2s, half_open_requests: 1}
                """.formatted(only.url()));
        RawHttpClient client = closer.add(proxy.connect());

        RawResponse refused = openTheBreaker(client, only);
        assertError(refused, 503, "no_healthy_upstream");
        RefusalAssert.assertRetryAfter(refused);
        int atOpen = only.received().size();
        EndpointStates.awaitState(proxy.gateway(), only.port(), "open", 900);
        assertFalse(EndpointStates.available(proxy.gateway(), only.port()), "an open breaker makes the endpoint unavailable");

        // The backend recovers; while the breaker is open the gateway keeps answering for it. After open_for, one
        // trial request goes through; the backend holds it, so the breaker stays half-open.
        failing.set(false);
        InFlightRequest trial = awaitTrialRequest(proxy, only);
        assertEquals(atOpen + 1, only.received().size(),
                () -> "while open, nothing but the one trial may reach the backend: " + uris(only));
        assertEquals("half_open", EndpointStates.state(proxy.gateway(), only.port()));

        // half_open_requests: 1 — a second request while the trial is out is refused, not sent.
        RawResponse duringTrial = get(client, "/during-trial");
        RefusalAssert.assertRefusedWithRetryAfter(duringTrial, 503);
        assertFalse(uris(only).contains("/during-trial"), "a second request reached the backend while half-open");

        releaseTrial.countDown();
        RawResponse trialAnswer = trial.await(10_000);
        assertEquals(200, trialAnswer.status(), trialAnswer::toString);
        assertEquals("ok " + trial.target(), trialAnswer.bodyText());

        // The trial succeeded: the breaker is closed and everything flows again.
        EndpointStates.awaitState(proxy.gateway(), only.port(), "healthy", 5_000);
        for (int i = 0; i < 5; i++) {
            RawResponse response = client.get("/closed/" + i).readResponse();
            assertEquals(200, response.status(), () -> "the breaker should be closed: " + response);
        }
        assertEquals(atOpen + 1 + 5, only.received().size(), () -> "requests at the backend: " + uris(only));
    }

    @Test
    void aFailedTrialOpensTheBreakerAgain() throws Exception {
        AtomicBoolean failing = new AtomicBoolean(true);
        TestBackend only = backend("only", failing);
        RunningProxy proxy = proxy("""
                endpoints: ["%s"]
                outlier_detection: {consecutive_failures: 0}
                circuit_breaker: {failure_rate: 50%%, minimum_requests: 4, window: 10s, open_for: 2s, half_open_requests: 1}
                """.formatted(only.url()));
        RawHttpClient client = closer.add(proxy.connect());
        assertError(openTheBreaker(client, only), 503, "no_healthy_upstream");
        int atOpen = only.received().size();

        // Still failing: the trial after open_for gets the backend's 500, and the breaker opens again at once.
        List<RawResponse> seen = new ArrayList<>();
        int[] k = {0};
        Poll.until(() -> {
            RawResponse response = get(client, "/probe/" + k[0]++);
            seen.add(response);
            if (response.status() == 503) {
                assertEquals(atOpen, only.received().size(), "a refused request reached the backend");
                sleepQuietly(50);
                return false;
            }
            assertEquals(500, response.status(), response::toString);
            return true;
        }, 10_000, () -> "no trial request after open_for: " + seen.size() + " refusals");
        assertEquals(atOpen + 1, only.received().size(), "exactly one trial is let through");

        RawResponse again = client.get("/after-failed-trial").readResponse();
        assertError(again, 503, "no_healthy_upstream");
        assertEquals(atOpen + 1, only.received().size(), () -> "the breaker should be open again: " + uris(only));
    }

    /**
     * A request sent while the breaker was closed, answered only once it is half-open, is not its trial: its success
     * must not close the breaker (nothing reached the endpoint since it opened), so the endpoint stays half-open until
     * a trial, a request admitted half-open, succeeds. The backend holds that early request until the test lets it go.
     */
    @Test
    void aRequestSentBeforeTheBreakerOpenedDoesNotCloseItWhenItSucceedsHalfOpen() throws Exception {
        AtomicBoolean failing = new AtomicBoolean(true);
        CountDownLatch releaseEarly = new CountDownLatch(1);
        TestBackend only = closer.add(TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(30);
            if (exchange.uri().equals("/early")) {
                releaseEarly.await(20, TimeUnit.SECONDS);
                exchange.respond(200, "text/plain", "ok /early");
            } else if (failing.get()) {
                exchange.respond(500, "text/plain", "failing");
            } else {
                exchange.respond(200, "text/plain", "ok " + exchange.uri());
            }
        }).start());
        RunningProxy proxy = proxy("""
                endpoints: ["%s"]
                outlier_detection: {consecutive_failures: 0}
                circuit_breaker: {failure_rate: 50%%, minimum_requests: 4, window: 10s, open_for: 1s, half_open_requests: 1}
                """.formatted(only.url()));
        InFlightRequest early = closer.add(InFlightRequest.get(proxy.port(), "/early"));
        Poll.until(() -> uris(only).contains("/early"), 5_000, () -> "/early never reached the backend");

        RawHttpClient client = closer.add(proxy.connect());
        assertError(openTheBreaker(client, only), 503, "no_healthy_upstream");
        EndpointStates.awaitState(proxy.gateway(), only.port(), "half_open", 5_000);
        failing.set(false);

        // The early request's answer (recorded when its head arrives, before the client has it) is no trial's.
        releaseEarly.countDown();
        RawResponse earlyAnswer = early.await(10_000);
        assertEquals(200, earlyAnswer.status(), earlyAnswer::toString);
        assertEquals("half_open", EndpointStates.state(proxy.gateway(), only.port()),
                "a request sent while the breaker was closed closed it as if it were the half-open trial");

        int before = only.received().size();
        RawResponse trial = client.get("/trial").readResponse();
        assertEquals(200, trial.status(), trial::toString);
        assertEquals(before + 1, only.received().size(), "the trial must reach the endpoint");
        EndpointStates.awaitState(proxy.gateway(), only.port(), "healthy", 5_000);
    }

    /**
     * Sends failing requests until the gateway refuses one itself, and returns that refusal. The breaker must not
     * open before {@code minimum_requests} (4) requests were seen in the window.
     */
    private static RawResponse openTheBreaker(RawHttpClient client, TestBackend backend) throws Exception {
        for (int i = 0; i < 10; i++) {
            int before = backend.received().size();
            RawResponse response = client.get("/fail/" + i).readResponse();
            if (response.status() == 503) {
                assertEquals(before, backend.received().size(), "the gateway's 503 must not reach the backend");
                assertTrue(before >= 4, () -> "the breaker opened after " + before + " requests; minimum_requests is 4");
                return response;
            }
            assertEquals(500, response.status(), response::toString);
        }
        throw new AssertionError("10 failures in a row never opened the breaker: " + uris(backend));
    }

    /** Sends requests every 50ms until one is let through to the backend (which holds it), and returns it. */
    private InFlightRequest awaitTrialRequest(RunningProxy proxy, TestBackend backend) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (int i = 0; System.nanoTime() < deadline; i++) {
            String target = "/trial/" + i;
            InFlightRequest request = closer.add(InFlightRequest.get(proxy.port(), target));
            // Either the gateway refuses it (open) or the backend gets it (half-open) and holds it.
            Poll.until(() -> request.isDone() || uris(backend).contains(target), 5_000,
                    () -> target + " was neither refused nor sent");
            if (uris(backend).contains(target)) {
                return request;
            }
            RawResponse refused = request.await(1_000);
            assertError(refused, 503, "no_healthy_upstream");
            request.close();
            TimeUnit.MILLISECONDS.sleep(50);
        }
        throw new AssertionError("no trial request was let through within 10s of the breaker opening");
    }

    private static RawResponse get(RawHttpClient client, String target) {
        try {
            return client.get(target).readResponse();
        } catch (Exception e) {
            throw new AssertionError(target + " failed", e);
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            TimeUnit.MILLISECONDS.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
