package io.streamgate.policy.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.streamgate.config.CacheConfig;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ResponseCacheTest {
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    /** A hand-moved clock, started far from zero so nothing depends on time starting at 0. */
    private long now = 7_000 * SECOND;
    private final ResponseCache cache = new ResponseCache(new CacheConfig(64 * 1024, 8 * 1024), () -> now);

    private static CacheKey key(String route, String path) {
        return CacheKeys.of(route, "GET", "api.example.com", path, null, null);
    }

    private CachedResponse response(int bodySize, long ttlSeconds) {
        return new CachedResponse(200, List.of(Map.entry("content-type", "application/json")),
                new byte[bodySize], false, 0, now, now + ttlSeconds * SECOND);
    }

    private void store(CacheKey key, CachedResponse response) {
        cache.store(key, List.of(), key, response);
    }

    @Test
    void countsHitsAndMisses() {
        CacheKey k = key("models", "/v1/models");
        assertNull(cache.lookup(k));
        CachedResponse r = response(100, 60);
        store(k, r);
        assertSame(r, cache.lookup(k));
        assertSame(r, cache.lookup(k));
        assertNull(cache.lookup(key("models", "/v1/other")));
        assertEquals(2, cache.hits());
        assertEquals(2, cache.misses());
        assertEquals(1, cache.entries());
    }

    @Test
    void entriesExpireAtTheirOwnDeadline() {
        CacheKey shortLived = key("r", "/short");
        CacheKey longLived = key("r", "/long");
        store(shortLived, response(10, 5));
        store(longLived, response(10, 60));
        now += 5 * SECOND - 1;
        assertNotNull(cache.lookup(shortLived), "still fresh one nanosecond before its deadline");
        now += 1;
        assertNull(cache.lookup(shortLived), "expired at its deadline");
        assertNotNull(cache.lookup(longLived));
        now += 55 * SECOND;
        assertNull(cache.lookup(longLived));
        cache.cleanUp();
        assertEquals(0, cache.entries());
        assertEquals(0, cache.evictions(), "expiry is not counted as eviction");
    }

    @Test
    void readsDoNotExtendTheLifetime() {
        CacheKey k = key("r", "/p");
        store(k, response(10, 10));
        for (int i = 0; i < 9; i++) {
            now += SECOND;
            assertNotNull(cache.lookup(k));
        }
        now += SECOND;
        assertNull(cache.lookup(k));
    }

    @Test
    void alreadyExpiredResponsesAreNotStored() {
        CacheKey k = key("r", "/p");
        store(k, new CachedResponse(200, List.of(), new byte[10], false, 0, now - 10 * SECOND, now));
        assertNull(cache.lookup(k));
        assertEquals(0, cache.entries());
    }

    @Test
    void replacingAnEntryTakesTheNewDeadline() {
        CacheKey k = key("r", "/p");
        store(k, response(10, 100));
        CachedResponse replacement = response(20, 5);
        store(k, replacement);
        assertSame(replacement, cache.lookup(k));
        now += 5 * SECOND;
        assertNull(cache.lookup(k));
    }

    @Test
    void totalWeightIsBounded() {
        int stored = 0;
        for (int i = 0; i < 40; i++) {
            store(key("r", "/p" + i), response(4 * 1024, 600));
            stored++;
        }
        cache.cleanUp();
        assertTrue(cache.weightedSize() <= 64 * 1024, "weighted size " + cache.weightedSize());
        assertTrue(cache.entries() < stored, "entries " + cache.entries());
        assertTrue(cache.evictions() > 0);
        assertEquals(stored, cache.entries() + cache.evictions(), "every entry is either kept or counted as evicted");
    }

    @Test
    void oversizeEntriesAreNotStored() {
        CacheKey big = key("r", "/big");
        store(big, response(8 * 1024, 60));
        assertNull(cache.lookup(big), "body alone at the limit: with headers it weighs more than max-entry-size");
        CacheKey fits = key("r", "/fits");
        store(fits, response(8 * 1024 - 1024, 60));
        assertNotNull(cache.lookup(fits));
        cache.cleanUp();
        assertEquals(1, cache.entries());
    }

    @Test
    void purgeRouteRemovesOnlyThatRoute() {
        store(key("a", "/1"), response(10, 60));
        store(key("a", "/2"), response(10, 60));
        store(key("b", "/1"), response(10, 60));
        assertEquals(2, cache.purgeRoute("a"));
        assertNull(cache.lookup(key("a", "/1")));
        assertNull(cache.lookup(key("a", "/2")));
        assertNotNull(cache.lookup(key("b", "/1")));
        assertEquals(0, cache.purgeRoute("a"));
        assertEquals(0, cache.purgeRoute("nope"));
    }

    @Test
    void purgePrefixMatchesKeyText() {
        CacheKey models = CacheKeys.of("m", "GET", "api.example.com", "/v1/models", null, "team-a");
        CacheKey modelsQuery = CacheKeys.of("m", "GET", "api.example.com", "/v1/models?limit=1", null, null);
        CacheKey chat = CacheKeys.of("c", "POST", "api.example.com", "/v1/chat/completions", "00", null);
        store(models, response(10, 60));
        store(modelsQuery, response(10, 60));
        store(chat, response(10, 60));
        assertEquals(2, cache.purgePrefix("GET api.example.com/v1/models"));
        assertNull(cache.lookup(models));
        assertNull(cache.lookup(modelsQuery));
        assertNotNull(cache.lookup(chat));
        assertEquals(1, cache.purgePrefix("POST "));
        assertEquals(0, cache.purgePrefix("GET"));
    }

    @Test
    void varyRoundTrip() {
        CacheKey primary = key("r", "/v1/models");
        assertEquals(List.of(), cache.varyNames(primary));

        HttpHeaders gzipRequest = new DefaultHttpHeaders().add("accept-encoding", "gzip");
        List<String> vary = CacheKeys.varyNames(new DefaultHttpHeaders().add("vary", "Accept-Encoding"));
        CacheKey gzipKey = CacheKeys.withVary(primary, vary, gzipRequest);
        CachedResponse gzipped = response(10, 60);
        cache.store(primary, vary, gzipKey, gzipped);

        // A later request: look up the names, build the full key from its own headers.
        List<String> remembered = cache.varyNames(primary);
        assertEquals(List.of("accept-encoding"), remembered);
        assertSame(gzipped, cache.lookup(CacheKeys.withVary(primary, remembered, gzipRequest)));
        HttpHeaders brRequest = new DefaultHttpHeaders().add("accept-encoding", "br");
        assertNull(cache.lookup(CacheKeys.withVary(primary, remembered, brRequest)));
        assertNull(cache.lookup(primary), "a varying response is not stored under the bare primary key");

        // The backend stops varying: the names are forgotten and the primary key is used again.
        cache.store(primary, List.of(), primary, response(10, 60));
        assertEquals(List.of(), cache.varyNames(primary));
        assertNotNull(cache.lookup(primary));
    }

    @Test
    void purgingForgetsVaryNamesToo() {
        CacheKey primary = key("r", "/p");
        cache.store(primary, List.of("accept"), CacheKeys.withVary(primary, List.of("accept"),
                new DefaultHttpHeaders()), response(10, 60));
        assertEquals(List.of("accept"), cache.varyNames(primary));
        assertEquals(1, cache.purgeRoute("r"));
        assertEquals(List.of(), cache.varyNames(primary));
    }

    @Test
    void oversizeResponseDoesNotChangeRememberedVaryNames() {
        CacheKey primary = key("r", "/p");
        cache.store(primary, List.of("accept"), CacheKeys.withVary(primary, List.of("accept"),
                new DefaultHttpHeaders()), response(10, 60));
        cache.store(primary, List.of(), primary, response(64 * 1024, 60));
        assertEquals(List.of("accept"), cache.varyNames(primary));
    }
}
