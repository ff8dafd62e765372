package io.streamgate.config;

import java.util.List;
import java.util.Map;

/**
 * One immutable, validated snapshot of the whole configuration. Handlers read it once per connection or
 * request and keep it for the exchange, so a reload never changes the rules under a running stream.
 */
public record ProxyConfig(ServerConfig server, Map<String, UpstreamConfig> upstreams, List<RouteConfig> routes,
                          List<ApiKeyConfig> apiKeys, Map<String, RateLimitConfig> rateLimits, RedisConfig redis,
                          CacheConfig cache, AdminConfig admin, AccessLogConfig accessLog, String source) {
    /**
     * @param rateLimits named rules that routes refer to
     * @param redis      the shared rate-limit store, or null
     * @param cache      the response cache's bounds (used only when a route caches)
     * @param admin      the admin listener, or null when it is off
     */
    public ProxyConfig {
        upstreams = Map.copyOf(upstreams);
        rateLimits = Map.copyOf(rateLimits);
        routes = List.copyOf(routes);
        apiKeys = List.copyOf(apiKeys);
    }
}
