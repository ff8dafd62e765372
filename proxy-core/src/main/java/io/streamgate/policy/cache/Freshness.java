package io.streamgate.policy.cache;

import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.time.Duration;
import java.util.Date;
import java.util.Objects;

/**
 * Whether a backend response may be stored in the shared cache, and for how long (RFC 9111 §3 and §4.2.1). Stateless.
 *
 * <p>The gateway never revalidates and never serves stale content, so everything that would require revalidation
 * (no-cache) is simply not stored.
 */
public final class Freshness {
    /**
     * Longest lifetime we grant: RFC 2616 already told servers not to promise more than a year, and the cap keeps
     * {@code storedAt + lifetime} far from nanosecond overflow even for an Expires in the year 9999.
     */
    static final Duration MAX_LIFETIME = Duration.ofDays(365);

    /** Longest value {@link DateFormatter#parseHttpDate(CharSequence)} accepts without throwing. */
    private static final int MAX_HTTP_DATE_CHARS = 64;

    private Freshness() {
    }

    /**
     * Null when the response must not be stored: a status that is not cacheable by default (only 200, 203, 204, 300,
     * 301, 308, 404, 405, 410, 414 and 501 are; 206 is left out because we do not combine ranges), Cache-Control
     * no-store / no-cache / private, a Set-Cookie header (one caller's session must never reach another), Vary: *,
     * or a lifetime that is not positive. Otherwise the lifetime: s-maxage, else max-age, else Expires minus Date
     * (minus {@code nowEpochMillis} when Date is absent or invalid), else {@code routeTtl}; capped at one year.
     *
     * <p>An explicit lifetime (s-maxage, max-age, Expires) is reduced by the response's Age header, as RFC 9111 §4.2.3
     * requires: when the backend is itself behind a cache, part of the lifetime has already been used. An invalid
     * Expires (unparseable, such as the common {@code Expires: 0}) means "already expired" (RFC 9111 §5.3).
     *
     * @param routeTtl       the route's lifetime for responses that state none
     * @param nowEpochMillis wall-clock time of receipt, used when the response carries no usable Date
     */
    public static Duration lifetime(int status, HttpHeaders responseHeaders, Duration routeTtl, long nowEpochMillis) {
        Objects.requireNonNull(routeTtl, "routeTtl");
        if (!cacheableByDefault(status)) {
            return null;
        }
        CacheControl cc = CacheControl.parse(responseHeaders.getAll(HttpHeaderNames.CACHE_CONTROL));
        if (cc.noStore() || cc.noCache() || cc.isPrivate()
                || responseHeaders.contains(HttpHeaderNames.SET_COOKIE)
                || CacheKeys.varyNames(responseHeaders).contains("*")) {
            return null;
        }
        Duration lifetime;
        if (cc.sMaxAgeSeconds() >= 0) {
            lifetime = Duration.ofSeconds(cc.sMaxAgeSeconds() - ageSeconds(responseHeaders));
        } else if (cc.maxAgeSeconds() >= 0) {
            lifetime = Duration.ofSeconds(cc.maxAgeSeconds() - ageSeconds(responseHeaders));
        } else if (responseHeaders.contains(HttpHeaderNames.EXPIRES)) {
            Date expires = httpDate(responseHeaders.get(HttpHeaderNames.EXPIRES));
            if (expires == null) {
                return null;
            }
            Date date = httpDate(responseHeaders.get(HttpHeaderNames.DATE));
            long base = date != null ? date.getTime() : nowEpochMillis;
            lifetime = Duration.ofMillis(expires.getTime() - base).minusSeconds(ageSeconds(responseHeaders));
        } else {
            lifetime = routeTtl;
        }
        if (lifetime.isNegative() || lifetime.isZero()) {
            return null;
        }
        return lifetime.compareTo(MAX_LIFETIME) > 0 ? MAX_LIFETIME : lifetime;
    }

    /** RFC 9110 §15.1 "heuristically cacheable" codes, minus 206 (see {@link #lifetime}). */
    static boolean cacheableByDefault(int status) {
        return switch (status) {
            case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501 -> true;
            default -> false;
        };
    }

    /** Null when absent or invalid; Netty's parser throws rather than answer for values over 64 chars. */
    private static Date httpDate(String value) {
        if (value == null || value.length() > MAX_HTTP_DATE_CHARS) {
            return null;
        }
        return DateFormatter.parseHttpDate(value);
    }

    /** The Age header in seconds; 0 when absent or malformed (RFC 9111 §5.1: an invalid Age is ignored). */
    static long ageSeconds(HttpHeaders headers) {
        String age = headers.get(HttpHeaderNames.AGE);
        return Math.max(0, CacheControl.deltaSeconds(age == null ? null : age.trim()));
    }
}
