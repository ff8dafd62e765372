package io.streamgate.config;

import java.util.List;
import java.util.Map;

/**
 * One immutable, validated snapshot of the whole configuration. Handlers read it once per connection or
 * request and keep it for the exchange, so a reload never changes the rules under a running stream.
 */
public record ProxyConfig(ServerConfig server, Map<String, UpstreamConfig> upstreams, List<RouteConfig> routes,
                          List<ApiKeyConfig> apiKeys, String source) {
    public ProxyConfig {
        upstreams = Map.copyOf(upstreams);
        routes = List.copyOf(routes);
        apiKeys = List.copyOf(apiKeys);
    }
}
