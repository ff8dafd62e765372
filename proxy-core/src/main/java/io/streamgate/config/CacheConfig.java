package io.streamgate.config;

/**
 * The response cache shared by all routes (top-level {@code cache}); routes opt in with a {@link RouteCacheConfig}.
 *
 * @param maxSize      total bytes of cached bodies and headers before the least valuable entries are evicted
 * @param maxEntrySize responses larger than this are passed through and not cached
 */
public record CacheConfig(long maxSize, long maxEntrySize) {
}
