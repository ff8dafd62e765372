package io.streamgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The upstream resilience settings and model routing through the whole loader: values, defaults, and errors. */
class UpstreamConfigTest {
    private static ProxyConfig load(String upstreamBody, String routeExtra) throws ConfigException {
        String yaml = """
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  a:
                %s
                  b:
                    endpoints: ["http://127.0.0.1:8001"]
                routes:
                  - path_prefix: /v1
                    upstream: a
                %s
                """.formatted(upstreamBody.indent(4), routeExtra.indent(4));
        return ConfigLoader.parse(yaml, "test.yaml", Map.<String, String>of()::get);
    }

    private static String error(String upstreamBody, String routeExtra) {
        return assertThrows(ConfigException.class, () -> load(upstreamBody, routeExtra)).getMessage();
    }

    @Test
    void defaultsKeepOldBehaviourAndAddSafeOnes() throws ConfigException {
        UpstreamConfig u = load("endpoints: [\"http://127.0.0.1:8000\"]", "").upstreams().get("a");
        assertNull(u.health().check());
        assertNull(u.health().breaker());
        assertEquals(new UpstreamConfig.Outlier(5, Duration.ofSeconds(10), Duration.ofMinutes(5)), u.health().outlier());
        assertEquals(Duration.ZERO, u.health().slowStart());
        assertEquals(UpstreamConfig.Retries.DEFAULT, u.retries());
        assertEquals(0, u.admission().maxInFlight());
        assertNull(u.apiKey());
        assertNull(u.models());
        assertEquals(UpstreamConfig.BackendTls.DEFAULT, u.tls());
    }

    @Test
    void readsEverySetting() throws ConfigException {
        ProxyConfig c = load("""
                endpoints: ["https://gpu1.internal", {url: "http://127.0.0.1:8000", weight: 2}]
                balance: least_loaded
                load_metrics: {path: /stats, interval: 2s}
                health_check: {path: /health, interval: 3s, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 4}
                outlier_detection: {consecutive_failures: 2, base_ejection: 5s, max_ejection: 1m}
                circuit_breaker: {failure_rate: 40%, minimum_requests: 10, window: 30s, open_for: 5s, half_open_requests: 2}
                slow_start: 20s
                retries: {attempts: 3, on: [reset, 502, 503], budget: 0.5, min_retries: 1}
                max_in_flight: 8
                queue: {size: 16, timeout: 2s, fairness: fifo}
                tls: {verify: false, server_name: gpu.internal}
                api_key: sk-backend
                models: [m1, m2]
                models_refresh: 10s
                """, """
                models:
                  upstreams: [a, b]
                  aliases: {public: m1}
                  fallback: b
                  catalog: false
                timeouts: {first_byte_failover: 30s}
                """);
        UpstreamConfig u = c.upstreams().get("a");
        assertEquals(new UpstreamConfig.Endpoint("gpu1.internal", 443, 1, true), u.endpoints().get(0));
        assertEquals("https://gpu1.internal:443", u.endpoints().get(0).toString());
        assertEquals(new UpstreamConfig.LoadMetrics("/stats", Duration.ofSeconds(2)), u.balance().loadMetrics());
        assertEquals(new UpstreamConfig.HealthCheck("/health", Duration.ofSeconds(3), Duration.ofSeconds(1), 1, 4), u.health().check());
        assertEquals(new UpstreamConfig.Outlier(2, Duration.ofSeconds(5), Duration.ofMinutes(1)), u.health().outlier());
        assertEquals(new UpstreamConfig.Breaker(0.4, 10, Duration.ofSeconds(30), Duration.ofSeconds(5), 2), u.health().breaker());
        assertEquals(Duration.ofSeconds(20), u.health().slowStart());
        assertEquals(new UpstreamConfig.Retries(3, false, true, List.of(502, 503), 0.5, 1), u.retries());
        assertEquals(new UpstreamConfig.Admission(8, 16, Duration.ofSeconds(2), false), u.admission());
        assertFalse(u.tls().verify());
        assertEquals("gpu.internal", u.tls().serverName());
        assertEquals("sk-backend", u.apiKey());
        assertFalse(u.toString().contains("sk-backend"), "the key never reaches a log line");
        assertEquals(List.of("m1", "m2"), u.models());
        RouteConfig r = c.routes().get(0);
        assertEquals(new RouteConfig.ModelRouting(List.of("a", "b"), Map.of("public", "m1"), "b", false), r.models());
        assertEquals(Duration.ofSeconds(30), r.timeouts().firstByteFailover());
    }

    @Test
    void emptyApiKeyMeansNone() throws ConfigException {
        assertNull(load("endpoints: [\"http://127.0.0.1:8000\"]\napi_key: \"\"", "").upstreams().get("a").apiKey());
    }

    @Test
    void outlierDetectionCanBeTurnedOff() throws ConfigException {
        assertNull(load("endpoints: [\"http://127.0.0.1:8000\"]\noutlier_detection: {consecutive_failures: 0}", "")
                .upstreams().get("a").health().outlier());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "queue: {size: 4}|upstreams.a.queue|queue applies only with max_in_flight",
            "load_metrics: {interval: 1s}|upstreams.a.load_metrics|applies to balance: least_loaded only",
            "health_check: {interval: 1s}|upstreams.a.health_check.path|required key is missing",
            "health_check: {path: health}|upstreams.a.health_check.path|is not a path",
            "circuit_breaker: {failure_rate: 150%}|upstreams.a.circuit_breaker.failure_rate|out of range",
            "circuit_breaker: {failure_rate: 0%}|upstreams.a.circuit_breaker.failure_rate|greater than 0%",
            "retries: {on: [timeout]}|upstreams.a.retries.on[0]|is not connect_failure, reset, 429 or a 5xx status",
            "retries: {attempts: 0}|upstreams.a.retries.attempts|",
            "outlier_detection: {base_ejection: 1m, max_ejection: 10s}|upstreams.a.outlier_detection.max_ejection|not be shorter",
            "max_in_flight: 4\\nqueue: {fairness: random}|upstreams.a.queue.fairness|is not api_key or fifo",
            "tls: {ca: /nonexistent/ca.pem}|upstreams.a.tls.ca|cannot read",
            "api_key: \"two words\"|upstreams.a.api_key|visible ASCII",
            "hash_key: prompt_prefix|upstreams.a.hash_key|applies to balance: consistent_hash only",
    })
    void badSettingsNameTheKey(String extra, String key, String message) {
        String e = error("endpoints: [\"http://127.0.0.1:8000\"]\n" + extra.replace("\\n", "\n"), "");
        assertTrue(e.contains(key), e);
        assertTrue(e.contains(message == null ? "" : message), e);
    }

    /**
     * The same backend listed twice would count as two endpoints for balancing and retries but share its meters and
     * connect health: it is refused at its second listing, however it is spelled (scheme and host case, default port,
     * trailing slash, with or without a weight). Endpoints that differ in scheme, host or port are distinct.
     */
    @Test
    void anEndpointListedTwiceIsRefusedAtItsSecondListing() throws ConfigException {
        assertListedTwice(2, 0, "http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://10.0.0.1:8000");
        assertListedTwice(1, 0, "http://10.0.0.1", "http://10.0.0.1:80/");
        assertListedTwice(1, 0, "https://gpu1.internal", "HTTPS://GPU1.Internal:443");
        assertListedTwice(2, 1, "http://10.0.0.1:8000", "http://[::1]:8000", "{url: \"http://[::1]:8000\", weight: 2}");
        UpstreamConfig u = load("endpoints: [\"http://10.0.0.1:8000\", \"https://10.0.0.1:8000\", \"http://10.0.0.1:8001\","
                + " \"http://10.0.0.2:8000\"]", "").upstreams().get("a");
        assertEquals(4, u.endpoints().size());
    }

    /** {@code items}, one per line of a block list starting on line 6, have a repeat at {@code repeat} of {@code first}. */
    private static void assertListedTwice(int repeat, int first, String... items) {
        String body = "endpoints:\n" + String.join("\n", List.of(items).stream().map(i -> "  - " + i).toList());
        ConfigException e = assertThrows(ConfigException.class, () -> load(body, ""));
        assertEquals("test.yaml", e.source(), e.getMessage());
        assertEquals(6 + repeat, e.line(), e.getMessage());
        assertEquals("upstreams.a.endpoints[" + repeat + "]", e.keyPath(), e.getMessage());
        assertTrue(e.getMessage().contains("is already listed as endpoints[" + first + "]"), e.getMessage());
    }

    @Test
    void endpointSchemesAndModelRoutingErrors() {
        assertTrue(error("endpoints: [\"ftp://h:1\"]", "").contains("only http:// and https://"));
        String unknown = error("endpoints: [\"http://127.0.0.1:8000\"]", "models: {upstreams: [a, nope]}");
        assertTrue(unknown.contains("routes[0].models.upstreams[1]") && unknown.contains("unknown upstream 'nope'"), unknown);
        String fallback = error("endpoints: [\"http://127.0.0.1:8000\"]", "models: {upstreams: [a], fallback: zz}");
        assertTrue(fallback.contains("routes[0].models.fallback"), fallback);
        String missing = error("endpoints: [\"http://127.0.0.1:8000\"]", "models: {aliases: {x: y}}");
        assertTrue(missing.contains("routes[0].models.upstreams") && missing.contains("required"), missing);
    }
}
