package io.streamgate.traffic;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.streamgate.Streamgate;
import io.streamgate.testing.ManualClock;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RedisServer;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two gateways sharing one real Redis: a limit with {@code store: redis} is one limit across both, and when Redis
 * goes away each gateway either limits alone (on_failure: open) or refuses with 503 (closed). Skipped where
 * redis-server is not installed, except on CI, where its absence fails the test.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RedisRateLimitTest {
    private static final String ALICE = "sk-alice-0123456789";
    private static final String BOB = "sk-bob-9876543210";

    private RedisServer redis;
    private TestBackend backend;
    private RunningProxy gatewayA;
    private RunningProxy gatewayB;

    @BeforeEach
    void startRedis() throws Exception {
        RedisServer.assumeInstalled();
        redis = RedisServer.start();
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
    }

    @AfterEach
    void stopAll() throws Exception {
        for (RunningProxy proxy : new RunningProxy[] {gatewayA, gatewayB}) {
            if (proxy != null) {
                proxy.close();
            }
        }
        if (backend != null) {
            backend.close();
        }
        if (redis != null) {
            redis.stop();
        }
    }

    /**
     * Each gateway has its own (never advanced) manual clock: the shared buckets must run on Redis's time. The
     * command timeout is short on purpose: a gateway's first acquire waits for its first Redis connection under the
     * (longer) connect timeout, so a cold start must not be refused even with closed.
     */
    private RunningProxy startGateway(String onFailure) throws Exception {
        return RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                api_keys:
                  - name: alice
                    key: "%s"
                  - name: bob
                    key: "%s"
                redis:
                  url: "%s"
                  timeout: 200ms
                  on_failure: %s
                rate_limits:
                  fleet: { key: api_key, requests: 4/m, store: redis }
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /v1
                    upstream: backend
                    auth: required
                    rate_limits: [fleet]
                """.formatted(ALICE, BOB, redis.url(), onFailure, backend.url()),
                new Streamgate.Options(new SimpleMeterRegistry(), new ManualClock()));
    }

    private static RawResponse get(RunningProxy proxy, String key, String target) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target, "Authorization: Bearer " + key).readResponse();
        }
    }

    private void startBoth(String onFailure) throws Exception {
        gatewayA = startGateway(onFailure);
        gatewayB = startGateway(onFailure);
    }

    @Test
    void twoGatewaysShareOneLimit() throws Exception {
        startBoth("open");
        assertEquals(200, get(gatewayA, ALICE, "/v1/a1").status());
        assertEquals(200, get(gatewayA, ALICE, "/v1/a2").status());
        assertEquals(200, get(gatewayB, ALICE, "/v1/b1").status());
        RawResponse fourth = get(gatewayB, ALICE, "/v1/b2");
        assertEquals(200, fourth.status(), fourth::toString);
        assertEquals("0", fourth.header("ratelimit-remaining"), () -> "the fourth of four, counted across gateways: " + fourth);

        assertError(get(gatewayA, ALICE, "/v1/a3"), 429, "rate_limit_exceeded");
        assertError(get(gatewayB, ALICE, "/v1/b3"), 429, "rate_limit_exceeded");
        assertEquals(4, backend.received().size());
        assertEquals(200, get(gatewayB, BOB, "/v1/bob").status(), "bob has his own shared bucket");
        assertTrue(redis.answersPing());
    }

    @Test
    void withRedisGoneFailOpenAnswersFromLocalBuckets() throws Exception {
        startBoth("open");
        assertEquals(200, get(gatewayA, ALICE, "/v1/before").status());
        redis.stop();

        for (RunningProxy gateway : new RunningProxy[] {gatewayA, gatewayB}) {
            for (int i = 0; i < 4; i++) {
                RawResponse response = get(gateway, BOB, "/v1/bob" + i);
                assertEquals(200, response.status(), () -> "fail-open must serve from local buckets: " + response);
            }
            // Each gateway now limits alone, but it still limits.
            assertError(get(gateway, BOB, "/v1/bob-over"), 429, "rate_limit_exceeded");
        }
        assertEquals(9, backend.received().size());
    }

    @Test
    void withRedisGoneFailClosedRefusesWith503() throws Exception {
        startBoth("closed");
        assertEquals(200, get(gatewayA, ALICE, "/v1/before").status());
        redis.stop();

        RawResponse refused = get(gatewayA, ALICE, "/v1/after");
        assertError(refused, 503, "rate_limit_store_unavailable");
        assertError(get(gatewayB, BOB, "/v1/after"), 503, "rate_limit_store_unavailable");
        assertEquals(1, backend.received().size());
    }
}
