package io.streamgate.server;

import io.streamgate.config.ApiKeyConfig;
import io.streamgate.config.CorsConfig;
import io.streamgate.config.ProxyConfig;
import io.streamgate.config.RateLimitConfig;
import io.streamgate.config.RouteConfig;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.policy.ApiKeys;
import io.streamgate.policy.ClientAddressResolver;
import io.streamgate.policy.CorsPolicy;
import io.streamgate.policy.IpRules;
import io.streamgate.policy.ratelimit.NanoClock;
import io.streamgate.policy.ratelimit.RateLimiters;
import io.streamgate.route.Router;
import io.streamgate.upstream.Upstream;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A config and everything compiled from it (router, upstreams, policies), swapped as one. An exchange keeps the
 * snapshot it started with.
 *
 * @param routePolicies by route name
 * @param apiKeyClasses API keys by name, for their queue weight and priority
 */
public record Snapshot(ProxyConfig config, Router router, Map<String, Upstream> upstreams, IpRules serverIp,
                       ClientAddressResolver proxies, ApiKeys apiKeys, Map<String, RoutePolicies> routePolicies,
                       RateLimiters rateLimiters, Map<String, ApiKeyConfig> apiKeyClasses) {

    /**
     * A route's compiled policies; {@code cors} is null when the route does not do CORS.
     *
     * @param rateLimits the route's rate limits in the order they apply
     */
    public record RoutePolicies(IpRules ip, CorsPolicy cors, List<RateLimitConfig> rateLimits) {
    }

    /** Compiles {@code config}; rate-limit buckets read time from {@code clock}. */
    public static Snapshot of(ProxyConfig config, NanoClock clock) {
        return of(config, clock, null);
    }

    /**
     * Compiles a reloaded {@code config}, keeping from {@code previous} what did not change: an upstream with the same
     * settings keeps its object (so its connection pools and round-robin position), a rate limit its buckets; a changed
     * upstream keeps the health of endpoints that stay.
     */
    public static Snapshot of(ProxyConfig config, NanoClock clock, Snapshot previous) {
        Map<String, Upstream> upstreams = new HashMap<>();
        for (UpstreamConfig u : config.upstreams().values()) {
            Upstream old = previous == null ? null : previous.upstreams().get(u.name());
            upstreams.put(u.name(), old != null && old.config().equals(u) ? old : new Upstream(u, old));
        }
        Map<String, RoutePolicies> policies = new HashMap<>();
        for (RouteConfig r : config.routes()) {
            CorsConfig c = r.cors();
            CorsPolicy cors = c == null ? null : new CorsPolicy(c.allowedOrigins(), c.allowedMethods(), c.allowedHeaders(),
                    c.exposedHeaders(), c.allowCredentials(), c.maxAge());
            List<RateLimitConfig> limits = r.rateLimits().stream().map(config.rateLimits()::get).toList();
            policies.put(r.name(), new RoutePolicies(IpRules.of(r.ip().allow(), r.ip().deny()), cors, limits));
        }
        Map<String, byte[]> keys = new LinkedHashMap<>();
        Map<String, ApiKeyConfig> classes = new HashMap<>();
        for (ApiKeyConfig k : config.apiKeys()) {
            keys.put(k.name(), k.sha256());
            classes.put(k.name(), k);
        }
        var server = config.server();
        return new Snapshot(config, new Router(config.routes()), Map.copyOf(upstreams),
                IpRules.of(server.ip().allow(), server.ip().deny()), ClientAddressResolver.of(server.trustedProxies()),
                new ApiKeys(keys), Map.copyOf(policies), RateLimiters.create(config.rateLimits().values(), config.redis(), clock,
                previous == null ? null : previous.rateLimiters()), Map.copyOf(classes));
    }
}
