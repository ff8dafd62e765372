package io.streamgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.config.RateLimitConfig.KeySource;
import io.streamgate.config.RateLimitConfig.Kind;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** The traffic-policy sections through the whole loader: what a valid file yields, and where a bad one is wrong. */
class PolicyConfigTest {
    private static final String BASE = """
            server:
              listen: "127.0.0.1:0"
            upstreams:
              vllm:
                endpoints: ["http://127.0.0.1:8000"]
            """;

    private static ProxyConfig load(String rest) throws ConfigException {
        return ConfigLoader.parse(BASE + rest, "test.yaml", Map.of("REDIS_URL", "redis://127.0.0.1:6379")::get);
    }

    private static String error(String rest) {
        return assertThrows(ConfigException.class, () -> load(rest)).getMessage();
    }

    @Test
    void readsRulesRoutesAndDefaults() throws ConfigException {
        ProxyConfig c = load("""
                redis:
                  url: "${REDIS_URL}"
                  on_failure: closed
                rate_limits:
                  per_key: { key: api_key, requests: 10/s, burst: 20 }
                  tpm: { key: header:X-Tenant, tokens: 60000/m }
                  streams: { key: client_ip, concurrent: 4, queue: 2, queue_timeout: 3s }
                  fleet: { key: route, requests: 5/h, store: redis }
                cache:
                  max_size: 1MiB
                  max_entry_size: 64KiB
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                    rate_limits: [per_key, tpm, streams, fleet]
                    cache: { ttl: 1h, post: deterministic, streamed: true, shared: true }
                    tokens: { inject_usage: false, peek_limit: 8KiB }
                  - path_prefix: /
                    upstream: vllm
                    cache: true
                """);
        RateLimitConfig perKey = c.rateLimits().get("per_key");
        assertEquals(Kind.REQUESTS, perKey.kind());
        assertEquals(KeySource.API_KEY, perKey.key());
        assertEquals(20, perKey.burst());
        assertEquals(10.0, perKey.ratePerSecond(), 1e-9);
        RateLimitConfig tpm = c.rateLimits().get("tpm");
        assertEquals(KeySource.HEADER, tpm.key());
        assertEquals("x-tenant", tpm.header());
        assertEquals(60000, tpm.burst(), "a period's worth by default");
        assertEquals(1000.0, tpm.ratePerSecond(), 1e-9);
        RateLimitConfig streams = c.rateLimits().get("streams");
        assertEquals(Kind.CONCURRENCY, streams.kind());
        assertEquals(4, streams.concurrent());
        assertEquals(2, streams.queue());
        assertEquals(Duration.ofSeconds(3), streams.queueTimeout());
        assertEquals(RateLimitConfig.Store.REDIS, c.rateLimits().get("fleet").store());
        assertEquals(RedisConfig.FailureMode.CLOSED, c.redis().onFailure());
        assertEquals(Duration.ofMillis(100), c.redis().timeout());
        assertEquals(new CacheConfig(1L << 20, 64L << 10), c.cache());
        RouteConfig v1 = c.routes().get(0);
        assertEquals(List.of("per_key", "tpm", "streams", "fleet"), v1.rateLimits());
        assertEquals(new RouteCacheConfig(Duration.ofHours(1), RouteCacheConfig.PostMode.DETERMINISTIC, true, true), v1.cache());
        assertFalse(v1.tokens().injectUsage());
        assertEquals(8192, v1.tokens().peekLimit());
        RouteConfig root = c.routes().get(1);
        assertEquals(new RouteCacheConfig(Duration.ofMinutes(5), RouteCacheConfig.PostMode.NEVER, false, false), root.cache());
        assertTrue(root.tokens().injectUsage());
        assertTrue(root.rateLimits().isEmpty());
    }

    @Test
    void policiesAreOffUnlessConfigured() throws ConfigException {
        ProxyConfig c = load("""
                routes:
                  - path_prefix: /
                    upstream: vllm
                """);
        assertTrue(c.rateLimits().isEmpty());
        assertNull(c.redis());
        assertNull(c.routes().get(0).cache());
        assertFalse(c.routes().get(0).tokens().meter());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "per_key: { key: api_key }                              | rate_limits.per_key: a rate limit needs one of requests",
        "per_key: { key: api_key, requests: 1/s, tokens: 5/m }  | exactly one of requests, tokens or concurrent, found requests and tokens",
        "per_key: { requests: 1/s }                             | rate_limits.per_key.key: required key is missing",
        "per_key: { key: user, requests: 1/s }                  | rate_limits.per_key.key: 'user' is not one of client_ip, api_key, route, header:<name>",
        "per_key: { key: 'header:', requests: 1/s }             | does not name a header",
        "per_key: { key: api_key, requests: 10 per second }     | rate_limits.per_key.requests: '10 per second' is not a rate",
        "per_key: { key: api_key, requests: 0/s }               | the rate must be at least 1 per s",
        "per_key: { key: api_key, requests: 1/s, burst: 0 }     | rate_limits.per_key.burst: 0 is out of range",
        "per_key: { key: api_key, requests: 1/s, queue: 3 }     | rate_limits.per_key.queue: queue applies to concurrent limits only",
        "per_key: { key: api_key, concurrent: 2, burst: 3 }     | rate_limits.per_key.burst: burst applies to requests and tokens limits",
        "per_key: { key: api_key, concurrent: 2, queue_timeout: 0 } | rate_limits.per_key.queue_timeout: must be greater than zero",
        "per_key: { key: api_key, requests: 1/s, store: disk }  | rate_limits.per_key.store: 'disk' is not one of local, redis",
        "'bad name': { key: api_key, requests: 1/s }            | rate limit names may only contain",
    })
    void rejectsBadRules(String rule, String expected) {
        String message = error("rate_limits:\n  " + rule + "\nroutes:\n  - path_prefix: /\n    upstream: vllm\n");
        assertTrue(message.contains(expected), message);
        assertTrue(message.startsWith("test.yaml:"), message);
    }

    @Test
    void routeReferencesAreChecked() {
        String unknown = error("""
                rate_limits:
                  a: { key: route, requests: 1/s }
                routes:
                  - path_prefix: /
                    upstream: vllm
                    rate_limits: [a, b]
                """);
        assertTrue(unknown.contains("routes[0].rate_limits[1]: unknown rate limit 'b' (known: a)"), unknown);
        String twice = error("""
                rate_limits:
                  a: { key: route, requests: 1/s }
                routes:
                  - path_prefix: /
                    upstream: vllm
                    rate_limits: [a, a]
                """);
        assertTrue(twice.contains("rate limit 'a' is listed twice"), twice);
        String noRedis = error("""
                rate_limits:
                  a: { key: route, requests: 1/s, store: redis }
                routes:
                  - path_prefix: /
                    upstream: vllm
                    rate_limits: [a]
                """);
        assertTrue(noRedis.contains("uses store: redis but there is no top-level redis section"), noRedis);
    }

    @Test
    void redisAndCacheValuesAreChecked() {
        String url = error("redis:\n  url: \"http://secret:pw@host\"\nroutes:\n  - path_prefix: /\n    upstream: vllm\n");
        assertTrue(url.contains("redis.url: expected a redis:// or rediss:// URL"), url);
        assertFalse(url.contains("pw"), "a URL may hold a password and is never echoed");
        String entry = error("cache:\n  max_size: 1MiB\n  max_entry_size: 2MiB\nroutes:\n  - path_prefix: /\n    upstream: vllm\n");
        assertTrue(entry.contains("cache.max_entry_size: max_entry_size must be between 1 byte and max_size"), entry);
        String post = error("routes:\n  - path_prefix: /\n    upstream: vllm\n    cache: { post: sometimes }\n");
        assertTrue(post.contains("routes[0].cache.post: 'sometimes' is not one of never, always, deterministic"), post);
        String peek = error("routes:\n  - path_prefix: /\n    upstream: vllm\n    tokens: { peek_limit: 100 }\n");
        assertTrue(peek.contains("routes[0].tokens.peek_limit: 100 bytes is out of range"), peek);
    }
}
