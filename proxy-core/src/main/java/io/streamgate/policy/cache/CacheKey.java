package io.streamgate.policy.cache;

import java.util.Objects;

/**
 * A response-cache key: the route it belongs to (for purging a route) and readable text built by {@link CacheKeys}
 * (for purging by prefix and for logs). Immutable; equal when both parts are equal.
 *
 * @param route the route's name
 * @param text  {@code "METHOD host/path?query[ #digest][ @identity][ |name=value...]"}
 */
public record CacheKey(String route, String text) {
    public CacheKey {
        Objects.requireNonNull(route, "route");
        Objects.requireNonNull(text, "text");
    }
}
