package io.streamgate.policy.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CacheControlTest {

    private static CacheControl parse(String... values) {
        return CacheControl.parse(List.of(values));
    }

    @Test
    void noHeaderMeansNothing() {
        assertEquals(new CacheControl(false, false, false, false, -1, -1), CacheControl.parse(List.of()));
    }

    @Test
    void readsEveryDirectiveWeActOn() {
        assertEquals(new CacheControl(true, true, true, true, 60, 120),
                parse("no-store, no-cache, private, public, max-age=60, s-maxage=120"));
    }

    @Test
    void combinesSeveralFieldLines() {
        CacheControl cc = parse("public", "max-age=30", "s-maxage=10");
        assertTrue(cc.isPublic());
        assertEquals(30, cc.maxAgeSeconds());
        assertEquals(10, cc.sMaxAgeSeconds());
        assertFalse(cc.noStore());
    }

    @Test
    void namesAreCaseInsensitiveAndSpacingIsTolerated() {
        CacheControl cc = parse("  PUBLIC ,Max-Age = 45 ,\tNO-STORE,,, ");
        assertTrue(cc.isPublic());
        assertTrue(cc.noStore());
        assertEquals(45, cc.maxAgeSeconds());
    }

    @Test
    void quotedArgumentsAreAccepted() {
        assertEquals(60, parse("max-age=\"60\"").maxAgeSeconds());
        assertEquals(7, parse("s-maxage=\"7\" , public").sMaxAgeSeconds());
        assertTrue(parse("s-maxage=\"7\" , public").isPublic());
    }

    @Test
    void commasInsideQuotesDoNotSplitDirectives() {
        CacheControl cc = parse("private=\"set-cookie, x-user\", max-age=5");
        assertTrue(cc.isPrivate(), "a qualified private still means 'do not store' for us");
        assertEquals(5, cc.maxAgeSeconds());
        CacheControl escaped = parse("ext=\"a\\\",no-store\", max-age=9");
        assertFalse(escaped.noStore(), "an escaped quote does not end the quoted string");
        assertEquals(9, escaped.maxAgeSeconds());
    }

    @Test
    void qualifiedNoCacheCountsAsNoCache() {
        assertTrue(parse("no-cache=\"Set-Cookie\"").noCache());
    }

    @Test
    void duplicatesTakeTheSmallestValidValue() {
        assertEquals(10, parse("max-age=60, max-age=10").maxAgeSeconds());
        assertEquals(10, parse("max-age=10", "max-age=60").maxAgeSeconds());
        assertEquals(60, parse("max-age=60, max-age=abc").maxAgeSeconds(), "a bad duplicate is ignored");
        assertEquals(0, parse("s-maxage=0, s-maxage=30").sMaxAgeSeconds());
    }

    @ParameterizedTest
    @ValueSource(strings = {"max-age", "max-age=", "max-age=-1", "max-age=+5", "max-age=1.5", "max-age=abc",
            "max-age=5s", "max-age=\"\"", "max-age=0x10", "=60", "max-age 60"})
    void malformedNumbersAreIgnored(String value) {
        assertEquals(-1, parse(value).maxAgeSeconds(), value);
    }

    @Test
    void hugeNumbersAreCappedAtTwoToTheThirtyFirst() {
        assertEquals(2_147_483_648L, parse("max-age=99999999999999999999999").maxAgeSeconds());
        assertEquals(2_147_483_647L, parse("max-age=2147483647").maxAgeSeconds());
    }

    @Test
    void garbageIsIgnoredWithoutHidingRealDirectives() {
        CacheControl cc = parse("\"unterminated, no-store", "max-age=5");
        assertEquals(5, cc.maxAgeSeconds());
        CacheControl junk = parse(",;=;,\"\"\",", "  ", "x-ext=\"q\"junk, no-store");
        assertTrue(junk.noStore());
        assertEquals(-1, junk.maxAgeSeconds());
        assertFalse(parse("no-storex, xprivate, no_cache").noStore());
        assertFalse(parse("no-storex, xprivate, no_cache").isPrivate());
        assertFalse(parse("no-storex, xprivate, no_cache").noCache());
    }
}
