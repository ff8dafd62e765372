package io.streamgate.policy.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;
import org.junit.jupiter.api.Test;

class CacheKeysTest {
    private static final String DIGEST = "ab".repeat(32);

    private static HttpHeaders headers(String... namesAndValues) {
        HttpHeaders h = new DefaultHttpHeaders();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            h.add(namesAndValues[i], namesAndValues[i + 1]);
        }
        return h;
    }

    private static CacheKey get(String identity) {
        return CacheKeys.of("models", "GET", "api.example.com", "/v1/models", null, identity);
    }

    @Test
    void textIsReadable() {
        assertEquals(new CacheKey("models", "GET api.example.com/v1/models?limit=5"),
                CacheKeys.of("models", "GET", "api.example.com", "/v1/models?limit=5", null, null));
        assertEquals("POST api.example.com/v1/chat/completions #" + DIGEST + " @team-a",
                CacheKeys.of("chat", "POST", "api.example.com", "/v1/chat/completions", DIGEST, "team-a").text());
    }

    @Test
    void headIsStoredAndFoundUnderGet() {
        assertEquals(get(null), CacheKeys.of("models", "HEAD", "api.example.com", "/v1/models", null, null));
        assertNotEquals(get(null), CacheKeys.of("models", "POST", "api.example.com", "/v1/models", null, null));
    }

    @Test
    void hostIsCaseInsensitivePathAndQueryAreNot() {
        assertEquals(get(null), CacheKeys.of("models", "GET", "API.Example.COM", "/v1/models", null, null));
        assertNotEquals(get(null), CacheKeys.of("models", "GET", "api.example.com", "/V1/models", null, null));
        assertNotEquals(CacheKeys.of("r", "GET", "h", "/a?x=1", null, null),
                CacheKeys.of("r", "GET", "h", "/a?x=2", null, null));
        assertNotEquals(get(null), CacheKeys.of("models", "GET", "other.example.com", "/v1/models", null, null));
    }

    @Test
    void identitiesAreIsolatedUnlessShared() {
        assertNotEquals(get("team-a"), get("team-b"));
        assertNotEquals(get("team-a"), get(null), "a private entry is not visible to anonymous callers");
        assertEquals(get(null), get(null), "a shared route passes no identity: everyone shares");
        assertEquals(get("team-a"), get("team-a"));
    }

    @Test
    void routeIsPartOfTheKey() {
        assertNotEquals(get(null), new CacheKey("other", get(null).text()));
    }

    @Test
    void bodyDigestSeparatesPosts() {
        CacheKey a = CacheKeys.of("chat", "POST", "h", "/c", BodyDigest.of(bytes("{\"a\":1}"), 7), null);
        CacheKey b = CacheKeys.of("chat", "POST", "h", "/c", BodyDigest.of(bytes("{\"a\":2}"), 7), null);
        assertNotEquals(a, b);
        assertNotEquals(a, CacheKeys.of("chat", "POST", "h", "/c", null, null));
    }

    @Test
    void craftedIdentitiesAndValuesCannotForgeOtherParts() {
        assertNotEquals(get("a |accept=x"), CacheKeys.withVary(get("a"), List.of("accept"), headers("accept", "x")));
        assertNotEquals(get("x @y"), get("x"));
        CacheKey attacker = CacheKeys.withVary(get(null), List.of("a", "b"), headers("a", "x |b=y"));
        CacheKey victim = CacheKeys.withVary(get(null), List.of("a", "b"), headers("a", "x", "b", "y |b"));
        assertNotEquals(attacker, victim);
        assertNotEquals(CacheKeys.withVary(get(null), List.of("a"), headers("a", "x y")),
                CacheKeys.withVary(get(null), List.of("a"), headers("a", "x%20y")));
        assertEquals("GET h/a%20b", CacheKeys.of("r", "GET", "h", "/a b", null, null).text());
    }

    @Test
    void withoutVaryNamesThePrimaryKeyIsTheKey() {
        CacheKey primary = get(null);
        assertSame(primary, CacheKeys.withVary(primary, List.of(), headers("accept", "x")));
    }

    @Test
    void varyValuesSelectEntries() {
        CacheKey primary = get(null);
        List<String> vary = List.of("Accept-Encoding");
        CacheKey gzip = CacheKeys.withVary(primary, vary, headers("accept-encoding", "gzip"));
        assertEquals(primary.text() + " |accept-encoding=gzip", gzip.text());
        assertEquals(gzip, CacheKeys.withVary(primary, vary, headers("ACCEPT-ENCODING", "gzip")));
        assertNotEquals(gzip, CacheKeys.withVary(primary, vary, headers("accept-encoding", "br")));
        CacheKey missing = CacheKeys.withVary(primary, vary, headers());
        CacheKey empty = CacheKeys.withVary(primary, vary, headers("accept-encoding", ""));
        assertNotEquals(missing, empty, "a missing header is not an empty one");
        assertNotEquals(primary, missing);
    }

    @Test
    void varyNamesAreNormalised() {
        HttpHeaders request = headers("accept", "text/plain", "accept-language", "fr");
        CacheKey a = CacheKeys.withVary(get(null), List.of("Accept-Language", "accept"), request);
        CacheKey b = CacheKeys.withVary(get(null), List.of("accept", "ACCEPT-LANGUAGE", "accept"), request);
        assertEquals(a, b);
        assertEquals(get(null).text() + " |accept=text/plain |accept-language=fr", a.text());
    }

    @Test
    void severalFieldLinesAreJoined() {
        CacheKey k = CacheKeys.withVary(get(null), List.of("x-tag"), headers("x-tag", "a", "x-tag", "b"));
        assertTrue(k.text().endsWith(" |x-tag=a,b"), k.text());
    }

    @Test
    void varyNamesOfAResponse() {
        assertEquals(List.of(), CacheKeys.varyNames(headers()));
        assertEquals(List.of("accept", "accept-encoding"),
                CacheKeys.varyNames(headers("vary", "Accept-Encoding, accept", "Vary", "ACCEPT ,,")));
        assertEquals(List.of("*", "accept"), CacheKeys.varyNames(headers("vary", "accept, *")));
        assertEquals(List.of("x-ok"), CacheKeys.varyNames(headers("vary", "x-ok, bad name, a=b, \"q\"")));
    }

    @Test
    void prefixesAreMeaningfulForPurging() {
        CacheKey k = CacheKeys.withVary(get("team-a"), List.of("accept"), headers("accept", "x"));
        assertTrue(k.text().startsWith("GET api.example.com/v1/models"));
        assertTrue(k.text().startsWith("GET api.example.com/v1/"));
        assertTrue(k.text().startsWith("GET api.example.com/v1/models @team-a"));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
