package io.streamgate.upstreams;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.EndpointStates;
import io.streamgate.testing.Poll;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RefusalAssert;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Active health checks: every endpoint's {@code GET /health} is polled; an endpoint whose check fails
 * {@code unhealthy_threshold} times in a row gets no requests until it passes {@code healthy_threshold} times again.
 * Each backend answers {@code /health} with a status the test switches, and every other request with its own name,
 * so the assertions are about which endpoint served what. Requests themselves never fail here (only the check does),
 * so every client answer must be a 200.
 *
 * <p>The check timeout is 500ms rather than a tighter figure, so a check on a loaded 2-core machine does not fail
 * by accident and flip a healthy endpoint.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HealthCheckTest {
    private static final String HEALTH_CHECK =
            "health_check: {path: /health, interval: 200ms, timeout: 500ms, unhealthy_threshold: 2, healthy_threshold: 2}";

    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /** A backend whose /health answers {@code health}'s current status and every other request "NAME URI". */
    private TestBackend backend(String name, AtomicInteger health) {
        return closer.add(TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(30);
            if (exchange.uri().equals("/health")) {
                exchange.respond(health.get(), "text/plain", health.get() == 200 ? "ok" : "not ready");
            } else {
                exchange.respond(200, "text/plain", name + " " + exchange.uri());
            }
        }).start());
    }

    private RunningProxy proxy(String upstreamYaml) throws Exception {
        return closer.add(RunningProxy.withUpstream("pool", upstreamYaml));
    }

    /** Requests other than health checks that {@code backend} received. */
    private static List<String> served(TestBackend backend) {
        return backend.received().stream().map(BackendExchange::uri).filter(u -> !u.equals("/health")).toList();
    }

    private static long healthChecks(TestBackend backend) {
        return backend.received().stream().filter(e -> e.uri().equals("/health") && e.method().equals("GET")).count();
    }

    /** Sends a GET, asserts a 200, returns the name of the backend that answered it. */
    private static String servedBy(RawHttpClient client, String target) throws Exception {
        RawResponse response = client.get(target).readResponse();
        assertEquals(200, response.status(), () -> target + ": no client error is allowed, got " + response);
        String body = response.bodyText();
        assertTrue(body.endsWith(" " + target), () -> target + " answered " + body);
        return body.substring(0, body.indexOf(' '));
    }

    @Test
    void anEndpointFailingItsCheckGetsNoTrafficUntilItPassesAgain() throws Exception {
        AtomicInteger healthA = new AtomicInteger(200);
        AtomicInteger healthB = new AtomicInteger(200);
        TestBackend a = backend("a", healthA);
        TestBackend b = backend("b", healthB);
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                %s
                """.formatted(a.url(), b.url(), HEALTH_CHECK));
        RawHttpClient client = closer.add(proxy.connect());
        AtomicInteger n = new AtomicInteger();

        // Both healthy: both serve (whether endpoints start out available or after their first passed checks).
        List<String> first = new ArrayList<>();
        Poll.until(() -> {
            first.add(servedByUnchecked(client, "/warm/" + n.incrementAndGet()));
            return first.contains("a") && first.contains("b");
        }, 10_000, () -> "both healthy endpoints should serve; last answers: " + tail(first));

        // a's check fails from now on: after two failed checks (~400ms) a gets nothing more.
        healthA.set(503);
        List<String> recent = new ArrayList<>();
        Poll.until(() -> {
            recent.add(servedByUnchecked(client, "/moving/" + n.incrementAndGet()));
            return recent.size() >= 10 && recent.subList(recent.size() - 10, recent.size()).stream().allMatch("b"::equals);
        }, 10_000, () -> "traffic should leave a, whose health check fails; last answers: " + tail(recent));
        int aBefore = served(a).size();
        for (int i = 0; i < 20; i++) {
            assertEquals("b", servedBy(client, "/out/" + i), () -> "a is unhealthy but got a request: " + served(a));
        }
        assertEquals(aBefore, served(a).size(), () -> "requests at the unhealthy a: " + served(a));
        assertTrue(healthChecks(a) >= 2, "a's /health should have been checked with GET");

        // a passes again: after two passed checks it serves again.
        healthA.set(200);
        List<String> back = new ArrayList<>();
        Poll.until(() -> {
            back.add(servedByUnchecked(client, "/back/" + n.incrementAndGet()));
            return back.contains("a");
        }, 10_000, () -> "a passes its check again but gets no request; last answers: " + tail(back));
        assertTrue(served(a).stream().anyMatch(u -> u.startsWith("/back/")), () -> "a served: " + served(a));
    }

    @Test
    void anEndpointFailingItsCheckIsShownUnhealthyAndUnavailable() throws Exception {
        AtomicInteger healthA = new AtomicInteger(503);
        AtomicInteger healthB = new AtomicInteger(200);
        TestBackend a = backend("a", healthA);
        TestBackend b = backend("b", healthB);
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                %s
                """.formatted(a.url(), b.url(), HEALTH_CHECK));

        EndpointStates.awaitState(proxy.gateway(), a.port(), "unhealthy", 10_000);
        assertFalse(EndpointStates.available(proxy.gateway(), a.port()), "an unhealthy endpoint is not available");
        EndpointStates.awaitState(proxy.gateway(), b.port(), "healthy", 10_000);
        assertTrue(EndpointStates.available(proxy.gateway(), b.port()), "a healthy endpoint is available");

        healthA.set(200);
        EndpointStates.awaitState(proxy.gateway(), a.port(), "healthy", 10_000);
        assertTrue(EndpointStates.available(proxy.gateway(), a.port()), "a recovered endpoint is available again");
    }

    @Test
    void whenNoEndpointIsHealthyTheGatewayAnswers503NoHealthyUpstreamWithRetryAfter() throws Exception {
        AtomicInteger health = new AtomicInteger(503);
        TestBackend only = backend("only", health);
        RunningProxy proxy = proxy("""
                endpoints: ["%s"]
                %s
                """.formatted(only.url(), HEALTH_CHECK));
        RawHttpClient client = closer.add(proxy.connect());
        AtomicInteger n = new AtomicInteger();
        RawResponse[] last = new RawResponse[1];

        Poll.until(() -> {
            last[0] = getUnchecked(client, "/try/" + n.incrementAndGet());
            return last[0].status() == 503;
        }, 10_000, () -> "the only endpoint fails its check, yet requests are still served: " + last[0]);
        assertError(last[0], 503, "no_healthy_upstream");
        RefusalAssert.assertRetryAfter(last[0]);

        int servedBefore = served(only).size();
        for (int i = 0; i < 5; i++) {
            RawResponse refused = client.get("/refused/" + i).readResponse();
            assertError(refused, 503, "no_healthy_upstream");
        }
        assertEquals(servedBefore, served(only).size(), () -> "requests reached the unhealthy endpoint: " + served(only));
    }

    @Test
    void aRecoveredEndpointGoesThroughSlowStartBeforeItIsHealthy() throws Exception {
        AtomicInteger healthA = new AtomicInteger(200);
        AtomicInteger healthB = new AtomicInteger(200);
        TestBackend a = backend("a", healthA);
        TestBackend b = backend("b", healthB);
        RunningProxy proxy = proxy("""
                endpoints: ["%s", "%s"]
                %s
                slow_start: 2s
                """.formatted(a.url(), b.url(), HEALTH_CHECK));

        EndpointStates.awaitState(proxy.gateway(), a.port(), "healthy", 10_000);
        healthA.set(503);
        EndpointStates.awaitState(proxy.gateway(), a.port(), "unhealthy", 10_000);
        healthA.set(200);
        // Two passed checks (~400ms) bring it back, into a 2s ramp: polled every 5ms, the state cannot be missed.
        EndpointStates.awaitState(proxy.gateway(), a.port(), "slow_start", 10_000);
        assertTrue(EndpointStates.available(proxy.gateway(), a.port()), "an endpoint in slow start takes requests");
        EndpointStates.awaitState(proxy.gateway(), a.port(), "healthy", 10_000);

        // After the ramp it takes its share again.
        RawHttpClient client = closer.add(proxy.connect());
        List<String> after = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            after.add(servedBy(client, "/after/" + i));
        }
        assertTrue(after.contains("a") && after.contains("b"), () -> "both should serve after slow start: " + after);
    }

    private static List<String> tail(List<String> list) {
        return list.subList(Math.max(0, list.size() - 20), list.size());
    }

    private static String servedByUnchecked(RawHttpClient client, String target) {
        try {
            return servedBy(client, target);
        } catch (AssertionError e) {
            throw e;
        } catch (Exception e) {
            throw new AssertionError(target + " failed", e);
        }
    }

    private static RawResponse getUnchecked(RawHttpClient client, String target) {
        try {
            return client.get(target).readResponse();
        } catch (Exception e) {
            throw new AssertionError(target + " failed", e);
        }
    }
}
