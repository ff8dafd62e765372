package io.streamgate.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CorsPolicyTest {
    private static final List<String> METHODS = List.of("GET", "POST");
    private static final List<String> HEADERS = List.of("authorization", "content-type");

    private static CorsPolicy policy(List<String> origins, boolean credentials) {
        return new CorsPolicy(origins, METHODS, HEADERS, List.of("x-request-id"), credentials, Duration.ofMinutes(10));
    }

    private static final CorsPolicy APP = policy(List.of("https://app.example.com", "https://*.example.com", "http://localhost:3000"), false);

    private static ResponseHeader h(String name, String value) {
        return new ResponseHeader(name, value);
    }

    @ParameterizedTest
    @ValueSource(strings = {"https://app.example.com", "https://APP.example.com", "https://a.example.com",
            "https://a.b.c.example.com", "https://x-1.example.com", "http://localhost:3000"})
    void allowsListedOrigins(String origin) {
        assertTrue(APP.allowsOrigin(origin), origin);
    }

    @ParameterizedTest
    @ValueSource(strings = {"https://example.com", "http://a.example.com", "https://a.example.com:8443",
            "https://evilexample.com", "https://a.example.com.evil.com", "https://evil.com/.example.com",
            "https://evil.com?.example.com", "https://evil.com#.example.com", "https://user@a.example.com",
            "https://.example.com", "https://a..example.com", "https://a_b.example.com", "https://app.example.com/",
            "http://localhost:3001", "http://localhost", "null", "", "*"})
    void refusesEverythingElse(String origin) {
        assertFalse(APP.allowsOrigin(origin), origin);
        assertFalse(APP.allowsOrigin(null));
    }

    @Test
    void wildcardWithPortMatchesThatPortOnly() {
        CorsPolicy p = policy(List.of("https://*.example.com:8443"), false);
        assertTrue(p.allowsOrigin("https://a.example.com:8443"));
        assertFalse(p.allowsOrigin("https://a.example.com"));
        assertFalse(p.allowsOrigin("https://a.example.com:8444"));
    }

    @Test
    void nullOriginOnlyWhenListedLiterally() {
        assertFalse(policy(List.of("*"), false).allowsOrigin("null"), "'*' must not admit the opaque origin");
        CorsPolicy p = policy(List.of("null"), false);
        assertTrue(p.allowsOrigin("null"));
        assertFalse(p.allowsOrigin("https://app.example.com"), "allowing null must not allow everything (T15)");
    }

    @Test
    void isPreflightNeedsOptionsOriginAndRequestMethod() {
        assertTrue(CorsPolicy.isPreflight("OPTIONS", "https://a.example.com", "POST"));
        assertFalse(CorsPolicy.isPreflight("OPTIONS", "https://a.example.com", null));
        assertFalse(CorsPolicy.isPreflight("OPTIONS", "https://a.example.com", " "));
        assertFalse(CorsPolicy.isPreflight("OPTIONS", null, "POST"));
        assertFalse(CorsPolicy.isPreflight("POST", "https://a.example.com", "POST"));
        assertFalse(CorsPolicy.isPreflight("options", "https://a.example.com", "POST"), "methods are case-sensitive");
    }

    @Test
    void preflightFromAllowedOriginEchoesItAndGrantsRequestedAllowedHeaders() {
        PreflightDecision d = APP.preflight("https://a.example.com", "POST", "Content-Type, X-Custom ,authorization");
        assertTrue(d.allowed());
        assertEquals(List.of(
                h("access-control-allow-origin", "https://a.example.com"),
                h("access-control-allow-methods", "GET, POST"),
                h("access-control-allow-headers", "content-type, authorization"),
                h("access-control-max-age", "600"),
                h("vary", "Origin")), d.headers());
    }

    @Test
    void preflightWithoutGrantableHeadersOmitsAllowHeaders() {
        PreflightDecision d = APP.preflight("https://a.example.com", "GET", null);
        assertTrue(d.allowed());
        assertFalse(d.headers().stream().anyMatch(x -> x.name().equals("access-control-allow-headers")));
        d = APP.preflight("https://a.example.com", "GET", "x-custom");
        assertFalse(d.headers().stream().anyMatch(x -> x.name().equals("access-control-allow-headers")));
    }

    @Test
    void preflightFromOtherOriginIsDeniedWithVaryOnly() {
        PreflightDecision d = APP.preflight("https://evil.com", "POST", "authorization");
        assertFalse(d.allowed());
        assertEquals(List.of(h("vary", "Origin")), d.headers());
        assertFalse(APP.preflight("null", "POST", null).allowed());
    }

    @Test
    void starIsSentOnlyWithoutCredentials() {
        CorsPolicy open = policy(List.of("*"), false);
        assertEquals(h("access-control-allow-origin", "*"), open.preflight("https://x.test", "GET", null).headers().get(0));
        assertEquals(h("access-control-allow-origin", "*"), open.responseHeaders("https://x.test").get(0));
        CorsPolicy credentialed = policy(List.of("*"), true);
        PreflightDecision d = credentialed.preflight("https://x.test", "GET", null);
        assertEquals(h("access-control-allow-origin", "https://x.test"), d.headers().get(0));
        assertTrue(d.headers().contains(h("access-control-allow-credentials", "true")));
    }

    @Test
    void actualResponseHeadersForAllowedOrigin() {
        assertEquals(List.of(
                h("access-control-allow-origin", "https://app.example.com"),
                h("access-control-expose-headers", "x-request-id"),
                h("vary", "Origin")), APP.responseHeaders("https://app.example.com"));
        CorsPolicy credentialed = policy(List.of("https://app.example.com"), true);
        assertEquals(List.of(
                h("access-control-allow-origin", "https://app.example.com"),
                h("access-control-allow-credentials", "true"),
                h("access-control-expose-headers", "x-request-id"),
                h("vary", "Origin")), credentialed.responseHeaders("https://app.example.com"));
    }

    @Test
    void actualResponseHeadersOtherwiseOnlyVary() {
        assertEquals(List.of(h("vary", "Origin")), APP.responseHeaders(null));
        assertEquals(List.of(h("vary", "Origin")), APP.responseHeaders("https://evil.com"));
        assertEquals(List.of(h("vary", "Origin")), APP.responseHeaders("null"));
    }

    @Test
    void noExposedHeadersMeansNoExposeHeader() {
        CorsPolicy p = new CorsPolicy(List.of("https://app.example.com"), METHODS, HEADERS, List.of(), false, Duration.ZERO);
        assertEquals(List.of(h("access-control-allow-origin", "https://app.example.com"), h("vary", "Origin")),
                p.responseHeaders("https://app.example.com"));
        assertTrue(p.preflight("https://app.example.com", "GET", null).headers().contains(h("access-control-max-age", "0")));
    }

    @Test
    void configuredNamesAreNormalised() {
        CorsPolicy p = new CorsPolicy(List.of("HTTPS://App.Example.COM:443"), List.of("get", "Post", "GET"),
                List.of("Content-Type", "X-Trace"), List.of("X-Request-Id"), false, Duration.ofSeconds(90));
        PreflightDecision d = p.preflight("https://app.example.com", "POST", "x-trace");
        assertEquals(List.of(
                h("access-control-allow-origin", "https://app.example.com"),
                h("access-control-allow-methods", "GET, POST"),
                h("access-control-allow-headers", "x-trace"),
                h("access-control-max-age", "90"),
                h("vary", "Origin")), d.headers());
        assertTrue(p.responseHeaders("https://app.example.com").contains(h("access-control-expose-headers", "x-request-id")));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "HTTPS://App.Example.com|https://app.example.com",
            "https://app.example.com:443|https://app.example.com",
            "http://app.example.com:80|http://app.example.com",
            "http://app.example.com:443|http://app.example.com:443",
            "https://app.example.com:08443|https://app.example.com:8443",
            "https://*.Example.com|https://*.example.com",
            "http://[::1]:8080|http://[::1]:8080",
            "http://127.0.0.1:3000|http://127.0.0.1:3000",
            "capacitor://localhost|capacitor://localhost",
            "*|*",
            "null|null"})
    void normalisesOrigins(String in, String out) {
        assertEquals(out, CorsPolicy.normalizeOrigin(in));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "https://app.example.com/|remove the trailing '/'",
            "https://app.example.com/v1|no path, query or user",
            "https://user@app.example.com|no path, query or user",
            "app.example.com|is not an origin",
            "://app.example.com|is not an origin",
            "https://a.*.example.com|only a leading '*.' wildcard",
            "https://*example.com|only a leading '*.' wildcard",
            "https://*.com|would match every site under .com",
            "https://app.example.com:0|port must be 1..65535",
            "https://app.example.com:65536|port must be 1..65535",
            "https://app.example.com:http|port must be 1..65535",
            "http://[::1|is not a bracketed IPv6 address",
            "http://[::1]x|unexpected text after the IPv6 address"})
    void refusesMalformedOrigins(String in, String problem) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CorsPolicy.normalizeOrigin(in));
        assertTrue(e.getMessage().contains(problem), e.getMessage());
    }

    @Test
    void refusesMalformedNamesAndNegativeMaxAge() {
        assertThrows(IllegalArgumentException.class,
                () -> new CorsPolicy(List.of("*"), List.of("GET POST"), HEADERS, List.of(), false, Duration.ZERO));
        assertThrows(IllegalArgumentException.class,
                () -> new CorsPolicy(List.of("*"), METHODS, List.of("*"), List.of(), false, Duration.ZERO));
        assertThrows(IllegalArgumentException.class,
                () -> new CorsPolicy(List.of("*"), METHODS, HEADERS, List.of("bad header"), false, Duration.ZERO));
        assertThrows(IllegalArgumentException.class,
                () -> new CorsPolicy(List.of("*"), METHODS, HEADERS, List.of(), false, Duration.ofSeconds(-1)));
    }
}
