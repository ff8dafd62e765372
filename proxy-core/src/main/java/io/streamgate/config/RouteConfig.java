package io.streamgate.config;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How requests matching host, path prefix and method are forwarded.
 *
 * @param host           exact host, {@code *.suffix}, or null for any host
 * @param methods        allowed methods, empty for any
 * @param rewritePrefix  replaces {@code pathPrefix} when forwarding, or null to keep the path ("" strips it)
 * @param hostHeader     what Host the backend sees
 * @param forwarded      which forwarding headers the backend gets
 * @param maxBodySize    request body limit in bytes, 0 for none
 * @param sseHeartbeat   silence after which a comment line is sent on an event stream, zero for never
 * @param upstreamApiKey sent to the backend as {@code Authorization: Bearer}, or null
 * @param cors           CORS rules, or null when the route does not answer CORS
 * @param rateLimits     names of the top-level rate limits a request must pass, in order
 * @param cache          response caching, or null when the route does not cache
 * @param tokens         how LLM token usage is read on this route
 * @param models         routing by the body's {@code model} field, or null
 */
public record RouteConfig(
        String name,
        String host,
        String pathPrefix,
        Set<String> methods,
        String upstream,
        String rewritePrefix,
        HostHeader hostHeader,
        ForwardedHeaders forwarded,
        long maxBodySize,
        Duration sseHeartbeat,
        Timeouts timeouts,
        AuthMode auth,
        String upstreamApiKey,
        IpRulesConfig ip,
        CorsConfig cors,
        List<String> rateLimits,
        RouteCacheConfig cache,
        TokenAccountingConfig tokens,
        ModelRouting models) {

    public RouteConfig {
        methods = Set.copyOf(methods);
        rateLimits = List.copyOf(rateLimits);
    }

    @Override
    public String toString() {
        // Never print the backend's key.
        return "RouteConfig[name=" + name + ", pathPrefix=" + pathPrefix + ", upstream=" + upstream + "]";
    }

    /** Whether a request must, may or need not carry one of the configured API keys. */
    public enum AuthMode { OFF, OPTIONAL, REQUIRED }

    /** PRESERVE forwards the client's Host, UPSTREAM uses the endpoint's host:port, LITERAL sends {@code value}. */
    public record HostHeader(Mode mode, String value) {
        public enum Mode { PRESERVE, UPSTREAM, LITERAL }
    }

    /**
     * Which headers tell the backend about the client: X-Forwarded-For/-Proto/-Host, RFC 7239's Forwarded, both, or
     * none (for a backend outside the operator's trust, such as a hosted API, that need not learn client addresses).
     */
    public enum ForwardedHeaders {
        X_FORWARDED, FORWARDED, BOTH, NONE;

        public boolean xForwarded() {
            return this == X_FORWARDED || this == BOTH;
        }

        public boolean rfc7239() {
            return this == FORWARDED || this == BOTH;
        }
    }

    /**
     * Zero means "off" for {@code total}. The others are always on.
     *
     * @param firstByte from the request being sent to the response headers arriving
     * @param idle      longest silence between two pieces of the response body
     */
    public record Timeouts(Duration connect, Duration firstByte, Duration idle, Duration total, Duration firstByteFailover) {
    }

    /**
     * Picks the upstream by the model a JSON body names.
     *
     * @param upstreams whose models the route serves, in order of preference when two serve the same model
     * @param aliases   public model name to the name an upstream serves
     * @param fallback  upstream for an unknown model, or null for 404
     * @param catalog   whether {@code GET <prefix>models} is answered from the union of the upstreams' models
     */
    public record ModelRouting(List<String> upstreams, Map<String, String> aliases, String fallback, boolean catalog) {
        public ModelRouting {
            upstreams = List.copyOf(upstreams);
            aliases = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(aliases));
        }
    }
}
