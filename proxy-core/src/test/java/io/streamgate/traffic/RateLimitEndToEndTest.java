package io.streamgate.traffic;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.testing.Json;
import io.streamgate.testing.ManualClock;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Request-rate limits through real sockets, with time moved by hand: the sixth request in a second is refused with
 * the OpenAI 429 and never reaches the backend, refills come with the clock, buckets are per key (API key, client
 * address, header), and a request refused by one of two rules gets its token back from the other.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RateLimitEndToEndTest {
    private static final String ALICE = "sk-alice-0123456789";
    private static final String BOB = "sk-bob-9876543210";

    private final ManualClock clock = new ManualClock();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                api_keys:
                  - name: alice
                    key: "%s"
                  - name: bob
                    key: "%s"
                rate_limits:
                  per_key: { key: api_key, requests: 5/s, burst: 5 }
                  per_ip: { key: client_ip, requests: 3/m }
                  per_tenant: { key: "header:x-tenant", requests: 2/m }
                  slow_key: { key: api_key, requests: 2/m }
                  whole_route: { key: route, requests: 1/s }
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - name: keyed
                    path_prefix: /keyed
                    upstream: backend
                    auth: required
                    rate_limits: [per_key]
                  - name: by-ip
                    path_prefix: /ip
                    upstream: backend
                    rate_limits: [per_ip]
                  - name: by-tenant
                    path_prefix: /tenant
                    upstream: backend
                    rate_limits: [per_tenant]
                  - name: two-rules
                    path_prefix: /two
                    upstream: backend
                    auth: required
                    rate_limits: [slow_key, whole_route]
                """.formatted(ALICE, BOB, backend.url()), new Streamgate.Options(registry, clock));
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    private RawResponse get(String target, String... headers) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target, headers).readResponse();
        }
    }

    private RawResponse asAlice(String target) throws IOException {
        return get(target, "Authorization: Bearer " + ALICE);
    }

    private static long header(RawResponse response, String name) {
        String value = response.header(name);
        assertNotNull(value, () -> "no " + name + " on " + response);
        return Long.parseLong(value.trim());
    }

    private static void assertRateLimited(RawResponse response, long limit) {
        assertError(response, 429, "rate_limit_exceeded");
        Map<?, ?> error = (Map<?, ?>) ((Map<?, ?>) Json.parse(response.bodyText())).get("error");
        assertEquals("rate_limit_error", error.get("type"), response::toString);
        assertTrue(header(response, "retry-after") >= 1, () -> "Retry-After of " + response);
        assertEquals(limit, header(response, "ratelimit-limit"), response::toString);
        assertEquals(0, header(response, "ratelimit-remaining"), response::toString);
        assertTrue(header(response, "ratelimit-reset") >= 1, () -> "RateLimit-Reset of " + response);
    }

    private double rejections(String rule) {
        Counter counter = registry.find("streamgate.ratelimit.rejections").tag("rule", rule).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void theSixthRequestInASecondIsRefusedAndTheClockRefillsTheBucket() throws Exception {
        long previousRemaining = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            int n = i + 1;
            RawResponse ok = asAlice("/keyed/models");
            assertEquals(200, ok.status(), ok::toString);
            assertEquals(5, header(ok, "ratelimit-limit"), ok::toString);
            long remaining = header(ok, "ratelimit-remaining");
            assertEquals(4 - i, remaining, () -> "RateLimit-Remaining after request " + n + ": " + ok);
            assertTrue(remaining < previousRemaining);
            previousRemaining = remaining;
            assertTrue(header(ok, "ratelimit-reset") >= 0, ok::toString);
        }
        RawResponse refused = asAlice("/keyed/models");
        assertRateLimited(refused, 5);
        assertEquals(5, backend.received().size(), "the refused request must not reach the backend");
        assertEquals(1.0, rejections("per_key"), "streamgate.ratelimit.rejections{rule=per_key}");

        clock.advance(Duration.ofSeconds(1));
        RawResponse again = asAlice("/keyed/models");
        assertEquals(200, again.status(), () -> "a second later the bucket is full again: " + again);
        assertEquals(6, backend.received().size());
    }

    @Test
    void eachApiKeyHasItsOwnBucket() throws Exception {
        for (int i = 0; i < 5; i++) {
            assertEquals(200, asAlice("/keyed/a").status());
        }
        assertRateLimited(asAlice("/keyed/a"), 5);
        for (int i = 0; i < 5; i++) {
            RawResponse bobs = get("/keyed/b", "x-api-key: " + BOB);
            assertEquals(200, bobs.status(), () -> "alice's exhausted bucket must not limit bob: " + bobs);
            assertEquals(4 - i, header(bobs, "ratelimit-remaining"));
        }
        assertRateLimited(get("/keyed/b", "x-api-key: " + BOB), 5);
        assertEquals(10, backend.received().size());
        assertEquals(2.0, rejections("per_key"));
    }

    @Test
    void aClientIpLimitCountsEveryRequestFromTheAddress() throws Exception {
        for (int i = 0; i < 3; i++) {
            assertEquals(200, get("/ip/x" + i).status());
        }
        assertRateLimited(get("/ip/x3"), 3);
        assertEquals(3, backend.received().size());
        clock.advance(Duration.ofSeconds(20)); // 3/m: one request per 20 s
        assertEquals(200, get("/ip/x4").status());
        assertRateLimited(get("/ip/x5"), 3);
        assertEquals(4, backend.received().size());
    }

    @Test
    void aHeaderLimitKeysByTheHeaderValueAndRequestsWithoutItShareOneBucket() throws Exception {
        for (int i = 0; i < 2; i++) {
            assertEquals(200, get("/tenant/a", "x-tenant: acme").status());
        }
        assertRateLimited(get("/tenant/a", "x-tenant: acme"), 2);
        assertEquals(200, get("/tenant/b", "x-tenant: globex").status(), "another tenant has its own bucket");
        assertEquals(200, get("/tenant/none").status());
        assertEquals(200, get("/tenant/none").status());
        assertRateLimited(get("/tenant/none"), 2);
        assertEquals(5, backend.received().size());
        assertEquals(2.0, rejections("per_tenant"));
    }

    /**
     * slow_key (2/m per key) runs before whole_route (1/s for everyone). When whole_route refuses alice, slow_key must
     * give her token back: a second later the route bucket has refilled but slow_key has gained only 1/30 of a
     * token, so her next request passes only if the refused one cost her nothing.
     */
    @Test
    void aRefusalByALaterRuleGivesBackWhatAnEarlierRuleTook() throws Exception {
        assertEquals(200, asAlice("/two/1").status());
        RawResponse refusedBob = get("/two/2", "x-api-key: " + BOB);
        assertRateLimited(refusedBob, 1);
        RawResponse refusedAlice = asAlice("/two/3");
        assertRateLimited(refusedAlice, 1);
        assertEquals(1, backend.received().size());
        assertEquals(2.0, rejections("whole_route"));
        assertEquals(0.0, rejections("slow_key"));

        clock.advance(Duration.ofSeconds(1));
        RawResponse next = asAlice("/two/4");
        assertEquals(200, next.status(), () -> "alice's per-key token was not given back when the route rule refused: " + next);
        assertEquals(2, backend.received().size());
        assertEquals("GET /two/4", next.bodyText());

        // Now alice's per-key bucket is really empty: the route bucket refills, hers does not.
        clock.advance(Duration.ofSeconds(1));
        assertRateLimited(asAlice("/two/5"), 2);
        assertEquals(1.0, rejections("slow_key"));
        assertEquals(2, backend.received().size());
    }
}
