package io.streamgate.policy.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.time.Duration;
import java.util.Date;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FreshnessTest {
    private static final Duration ROUTE_TTL = Duration.ofSeconds(300);
    /** 2024-01-01T00:00:00Z; whole seconds, as HTTP dates are. */
    private static final long NOW = 1_704_067_200_000L;

    private static HttpHeaders headers(String... namesAndValues) {
        HttpHeaders h = new DefaultHttpHeaders();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            h.add(namesAndValues[i], namesAndValues[i + 1]);
        }
        return h;
    }

    private static String httpDate(long epochMillis) {
        return DateFormatter.format(new Date(epochMillis));
    }

    private static Duration lifetime(HttpHeaders h) {
        return Freshness.lifetime(200, h, ROUTE_TTL, NOW);
    }

    @ParameterizedTest
    @ValueSource(ints = {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
    void defaultCacheableStatusesUseTheRouteTtl(int status) {
        assertEquals(ROUTE_TTL, Freshness.lifetime(status, headers(), ROUTE_TTL, NOW));
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 201, 202, 206, 302, 303, 304, 307, 400, 401, 403, 429, 500, 502, 503, 504})
    void otherStatusesAreNeverStored(int status) {
        assertNull(Freshness.lifetime(status, headers("cache-control", "public, max-age=60"), ROUTE_TTL, NOW));
    }

    @ParameterizedTest
    @ValueSource(strings = {"no-store", "no-cache", "private", "public, max-age=60, no-store", "PRIVATE",
            "private=\"x-user\", max-age=60", "no-cache=\"set-cookie\""})
    void refusingDirectivesPreventStoring(String cacheControl) {
        assertNull(lifetime(headers("cache-control", cacheControl)), cacheControl);
    }

    @Test
    void refusingDirectiveOnASecondLinePreventsStoring() {
        assertNull(lifetime(headers("cache-control", "max-age=60", "cache-control", "no-store")));
    }

    @Test
    void setCookiePreventsStoring() {
        assertNull(lifetime(headers("set-cookie", "session=abc")));
        assertNull(lifetime(headers("cache-control", "public, s-maxage=60", "Set-Cookie", "a=b")));
    }

    @Test
    void varyStarPreventsStoringButOtherVaryDoesNot() {
        assertNull(lifetime(headers("vary", "*")));
        assertNull(lifetime(headers("vary", "accept-encoding, *")));
        assertNull(lifetime(headers("vary", "accept", "vary", "*")));
        assertEquals(ROUTE_TTL, lifetime(headers("vary", "accept-encoding")));
    }

    @Test
    void sMaxAgeWinsOverMaxAgeAndExpires() {
        assertEquals(Duration.ofSeconds(20), lifetime(headers("cache-control", "max-age=60, s-maxage=20",
                "expires", httpDate(NOW + 3_600_000))));
    }

    @Test
    void maxAgeWinsOverExpires() {
        assertEquals(Duration.ofSeconds(60), lifetime(headers("cache-control", "max-age=60",
                "expires", httpDate(NOW + 3_600_000))));
        assertEquals(Duration.ofSeconds(60), lifetime(headers("cache-control", "max-age=60", "expires", "0")),
                "an invalid Expires does not matter when max-age is present");
    }

    @Test
    void zeroLifetimeIsNotStored() {
        assertNull(lifetime(headers("cache-control", "max-age=0")));
        assertNull(lifetime(headers("cache-control", "s-maxage=0, max-age=60")));
        assertNull(Freshness.lifetime(200, headers(), Duration.ZERO, NOW));
    }

    @Test
    void expiresIsMeasuredFromDate() {
        long date = NOW - 10_000;
        assertEquals(Duration.ofSeconds(90), lifetime(headers("date", httpDate(date),
                "expires", httpDate(date + 90_000))), "Expires minus Date, whatever our own clock says");
    }

    @Test
    void expiresIsMeasuredFromNowWithoutAUsableDate() {
        assertEquals(Duration.ofSeconds(45), lifetime(headers("expires", httpDate(NOW + 45_000))));
        assertEquals(Duration.ofSeconds(45), lifetime(headers("date", "yesterday", "expires", httpDate(NOW + 45_000))));
    }

    @Test
    void expiresInThePastIsNotStored() {
        assertNull(lifetime(headers("expires", httpDate(NOW - 1_000))));
        assertNull(lifetime(headers("date", httpDate(NOW), "expires", httpDate(NOW))));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-1", "never", "", "Thu, 99 Foo 2024 00:00:00 GMT"})
    void invalidExpiresCountsAsAlreadyExpired(String expires) {
        assertNull(lifetime(headers("expires", expires)), expires);
    }

    @Test
    void overlongDatesAreInvalidNotErrors() {
        String longDate = httpDate(NOW + 60_000) + " ".repeat(60) + "x";
        assertNull(lifetime(headers("expires", longDate)));
        assertEquals(Duration.ofSeconds(60), lifetime(headers("date", longDate, "expires", httpDate(NOW + 60_000))));
    }

    @Test
    void ageUsesUpPartOfAnExplicitLifetime() {
        assertEquals(Duration.ofSeconds(40), lifetime(headers("cache-control", "max-age=60", "age", "20")));
        assertNull(lifetime(headers("cache-control", "max-age=60", "age", "60")));
        assertEquals(Duration.ofSeconds(60), lifetime(headers("cache-control", "max-age=60", "age", "soon")),
                "an invalid Age is ignored");
        assertEquals(ROUTE_TTL, lifetime(headers("age", "20")), "the route TTL is our own policy, not the backend's");
    }

    @Test
    void lifetimeIsCappedAtOneYear() {
        assertEquals(Duration.ofDays(365), lifetime(headers("expires", "Fri, 31 Dec 9999 23:59:59 GMT")));
        assertEquals(Duration.ofDays(365), lifetime(headers("cache-control", "max-age=2147483648")));
    }

    @Test
    void routeTtlIsTheFallback() {
        assertEquals(Duration.ofMinutes(7), Freshness.lifetime(404, headers("cache-control", "public"),
                Duration.ofMinutes(7), NOW));
    }
}
