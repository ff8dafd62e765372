package io.streamgate.policy.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import io.streamgate.config.CacheConfig;
import java.util.List;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * The gateway's response store. Thread-safe (Caffeine underneath; counters are LongAdders).
 *
 * <p>Bounded by total weight ({@link CacheConfig#maxSize()}, see {@link CachedResponse#weight()} plus the key text),
 * with Caffeine's frequency-aware admission deciding what to evict. Each entry expires at its own
 * {@link CachedResponse#expiresAtNanos()}; all time comes from the injected nanosecond clock (also Caffeine's
 * ticker), so tests move time by hand. Cache maintenance runs on the calling thread rather than on the common
 * fork-join pool: it is short, and it keeps evictions deterministic after {@link #cleanUp()}.
 *
 * <p>A response that varies (Vary) is stored under its full key, which needs the Vary names before the response is
 * known; so, per primary key, the names of the last stored response are remembered in a small separate map. Losing
 * one of those (size bound) only costs a miss.
 */
public final class ResponseCache {
    /** How many primary keys' Vary names are remembered; each is a key and a short list. */
    static final int VARY_MEMORY_ENTRIES = 10_000;

    private final Cache<CacheKey, CachedResponse> entries;
    private final Cache<CacheKey, List<String>> varyByPrimary;
    private final LongSupplier nanoClock;
    private volatile long maxEntrySize;
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder evictions = new LongAdder();

    public ResponseCache(CacheConfig config, LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
        this.maxEntrySize = config.maxEntrySize();
        this.entries = Caffeine.newBuilder()
                .maximumWeight(config.maxSize())
                .weigher(ResponseCache::weigh)
                .expireAfter(new ExpireAtEntryDeadline())
                .ticker(nanoClock::getAsLong)
                .executor(Runnable::run)
                .evictionListener((CacheKey key, CachedResponse value, RemovalCause cause) -> {
                    if (cause == RemovalCause.SIZE) {
                        evictions.increment();
                    }
                })
                .build();
        this.varyByPrimary = Caffeine.newBuilder()
                .maximumSize(VARY_MEMORY_ENTRIES)
                .executor(Runnable::run)
                .build();
    }

    /** A reload's {@link CacheConfig#maxEntrySize()}: applies to entries stored from now on. */
    public void maxEntrySize(long bytes) {
        this.maxEntrySize = bytes;
    }

    /** The Vary names (as given to {@link #store}) of the last response stored under {@code primary}; empty if none. */
    public List<String> varyNames(CacheKey primary) {
        List<String> names = varyByPrimary.getIfPresent(primary);
        return names == null ? List.of() : names;
    }

    /** The entry under {@code key}, or null when there is none or it has expired; counts a hit or a miss. */
    public CachedResponse lookup(CacheKey key) {
        CachedResponse response = entries.getIfPresent(key);
        if (response == null) {
            misses.increment();
        } else {
            hits.increment();
        }
        return response;
    }

    /**
     * Stores {@code response} under {@code fullKey} (the primary key extended by {@link CacheKeys#withVary}) and
     * remembers {@code varyNames} for {@code primary} (forgets them when empty). Does nothing when the entry weighs
     * more than {@link CacheConfig#maxEntrySize()} or has already expired.
     */
    public void store(CacheKey primary, List<String> varyNames, CacheKey fullKey, CachedResponse response) {
        if (response.weight() > maxEntrySize || response.expiresAtNanos() - nanoClock.getAsLong() <= 0) {
            return;
        }
        if (varyNames.isEmpty()) {
            varyByPrimary.invalidate(primary);
        } else {
            varyByPrimary.put(primary, List.copyOf(varyNames));
        }
        entries.put(fullKey, response);
    }

    /** Removes every entry of the route; returns how many entries were removed. */
    public long purgeRoute(String route) {
        return purge(key -> key.route().equals(route));
    }

    /** Removes every entry whose key text starts with {@code keyTextPrefix}; returns how many were removed. */
    public long purgePrefix(String keyTextPrefix) {
        return purge(key -> key.text().startsWith(keyTextPrefix));
    }

    private long purge(Predicate<CacheKey> matches) {
        long removed = 0;
        ConcurrentMap<CacheKey, CachedResponse> map = entries.asMap();
        for (CacheKey key : map.keySet()) {
            if (matches.test(key) && map.remove(key) != null) {
                removed++;
            }
        }
        varyByPrimary.asMap().keySet().removeIf(matches);
        return removed;
    }

    public long hits() {
        return hits.sum();
    }

    public long misses() {
        return misses.sum();
    }

    /** Entries removed to respect the weight bound (not expiries, not purges). */
    public long evictions() {
        return evictions.sum();
    }

    /** Approximate number of entries; exact after {@link #cleanUp()}. */
    public long entries() {
        return entries.estimatedSize();
    }

    /** Total weight of the stored entries; at most {@link CacheConfig#maxSize()} after {@link #cleanUp()}. */
    public long weightedSize() {
        return entries.policy().eviction().orElseThrow().weightedSize().orElse(0);
    }

    /** Runs pending maintenance (evictions, expiries) now; for tests and metrics. */
    public void cleanUp() {
        entries.cleanUp();
        varyByPrimary.cleanUp();
    }

    private static int weigh(CacheKey key, CachedResponse response) {
        return (int) Math.min(Integer.MAX_VALUE, (long) response.weight() + key.text().length());
    }

    /** Expiry at the deadline the entry carries; reads do not extend it. */
    private static final class ExpireAtEntryDeadline implements Expiry<CacheKey, CachedResponse> {
        @Override
        public long expireAfterCreate(CacheKey key, CachedResponse response, long currentTime) {
            return Math.max(0, response.expiresAtNanos() - currentTime);
        }

        @Override
        public long expireAfterUpdate(CacheKey key, CachedResponse response, long currentTime, long currentDuration) {
            return Math.max(0, response.expiresAtNanos() - currentTime);
        }

        @Override
        public long expireAfterRead(CacheKey key, CachedResponse response, long currentTime, long currentDuration) {
            return currentDuration;
        }
    }
}
