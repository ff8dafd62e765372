package io.streamgate.admission;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * CORS through the proxy. /v1 (API key required) allows https://app.example.com and https://*.example.com;
 * /public allows any origin. Preflights are answered by Streamgate without touching the backend or asking for a
 * key; a disallowed origin gets no CORS headers, and 403 on preflight.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CorsEndToEndTest {
    private static final String KEY = "sk-cors-test";

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                api_keys:
                  - name: web
                    key: "%s"
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /v1
                    upstream: backend
                    auth: required
                    cors:
                      allowed_origins: ["https://app.example.com", "https://*.example.com"]
                      allowed_methods: [GET, POST]
                      allowed_headers: [authorization, content-type]
                      exposed_headers: [x-request-id]
                      max_age: 10m
                  - path_prefix: /public
                    upstream: backend
                    cors:
                      allowed_origins: ["*"]
                """.formatted(KEY, backend.url()));
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    private RawResponse send(String method, String target, String... headers) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.send(RawHttpClient.request(method, target, null, headers)).readResponse();
        }
    }

    private RawResponse preflight(String origin, String method, String requestHeaders) throws IOException {
        return send("OPTIONS", "/v1/chat/completions", "Origin: " + origin, "Access-Control-Request-Method: " + method,
                "Access-Control-Request-Headers: " + requestHeaders);
    }

    private static List<String> tokens(String headerValue) {
        return headerValue == null ? List.of()
                : Arrays.stream(headerValue.split(",")).map(s -> s.trim().toLowerCase(Locale.ROOT)).toList();
    }

    private static void assertVaryOrigin(RawResponse response) {
        boolean varies = response.head().headers("vary").stream().anyMatch(v -> tokens(v).contains("origin"));
        assertTrue(varies, () -> "no Vary: Origin on " + response);
    }

    @ParameterizedTest
    @ValueSource(strings = {"https://app.example.com", "https://a.b.example.com", "https://chat.example.com"})
    void aPreflightFromAnAllowedOriginIsAnsweredWithoutTheBackendOrAKey(String origin) throws Exception {
        RawResponse response = preflight(origin, "POST", "content-type, authorization");
        assertEquals(204, response.status(), response::toString);
        assertEquals(origin, response.header("access-control-allow-origin"));
        assertTrue(tokens(response.header("access-control-allow-methods")).contains("post"), response::toString);
        List<String> allowedHeaders = tokens(response.header("access-control-allow-headers"));
        assertTrue(allowedHeaders.contains("content-type") && allowedHeaders.contains("authorization"), response::toString);
        assertEquals("600", response.header("access-control-max-age"));
        assertVaryOrigin(response);
        assertNull(response.header("access-control-allow-credentials"), "credentials were not allowed");
        assertEquals(0, backend.received().size(), "a preflight reached the backend");
    }

    @ParameterizedTest
    @ValueSource(strings = {"https://evil.test", "https://example.com.evil.com", "https://example.com", "http://app.example.com",
            "https://app.example.com.", "https://evilexample.com", "null"})
    void aPreflightFromAnotherOriginIs403WithoutCorsHeaders(String origin) throws Exception {
        RawResponse response = preflight(origin, "POST", "content-type");
        assertError(response, 403, "cors_origin_denied");
        assertNull(response.header("access-control-allow-origin"), response::toString);
        assertNull(response.header("access-control-allow-methods"), response::toString);
        assertEquals(0, backend.received().size(), "a preflight reached the backend");
    }

    @Test
    void anActualRequestFromAnAllowedOriginGetsCorsHeaders() throws Exception {
        RawResponse response = send("GET", "/v1/models", "Origin: https://app.example.com", "Authorization: Bearer " + KEY);
        assertEquals(200, response.status(), response::toString);
        assertEquals("https://app.example.com", response.header("access-control-allow-origin"));
        assertTrue(tokens(response.header("access-control-expose-headers")).contains("x-request-id"), response::toString);
        assertVaryOrigin(response);
    }

    @Test
    void anActualRequestFromAnotherOriginIsProxiedWithoutCorsHeaders() throws Exception {
        RawResponse response = send("GET", "/v1/models", "Origin: https://example.com.evil.com", "Authorization: Bearer " + KEY);
        assertEquals(200, response.status(), response::toString);
        assertNull(response.header("access-control-allow-origin"), response::toString);
        assertVaryOrigin(response);
        assertEquals(1, backend.received().size());
    }

    @Test
    void anActualRequestStillNeedsItsKey() throws Exception {
        RawResponse response = send("POST", "/v1/chat/completions", "Origin: https://app.example.com", "Content-Length: 0");
        assertEquals(401, response.status(), response::toString);
        assertEquals(0, backend.received().size());
    }

    @Test
    void aWildcardRouteAllowsAnyOrigin() throws Exception {
        RawResponse preflight = send("OPTIONS", "/public/x", "Origin: https://anything.test", "Access-Control-Request-Method: GET");
        assertEquals(204, preflight.status(), preflight::toString);
        String allowOrigin = preflight.header("access-control-allow-origin");
        assertNotNull(allowOrigin);
        assertTrue(allowOrigin.equals("*") || allowOrigin.equals("https://anything.test"), allowOrigin);
        RawResponse actual = send("GET", "/public/x", "Origin: https://anything.test");
        assertEquals(200, actual.status(), actual::toString);
        assertNotNull(actual.header("access-control-allow-origin"));
        assertEquals(1, backend.received().size(), "only the actual request reaches the backend");
    }

    @Test
    void aPlainOptionsRequestWithoutPreflightHeadersIsNotAPreflight() throws Exception {
        // No Origin / Access-Control-Request-Method: an ordinary OPTIONS for the backend (it still needs a key on /v1).
        RawResponse response = send("OPTIONS", "/public/x");
        assertEquals(200, response.status(), response::toString);
        assertEquals("OPTIONS /public/x", response.bodyText());
    }

    /**
     * vLLM's server answers {@code Access-Control-Allow-Origin: *} (with credentials allowed) to everyone by default.
     * On a route with a CORS policy the gateway's answer replaces the backend's: a refused origin gets none of them,
     * an allowed one exactly the route's.
     */
    @Test
    void theRoutesPolicyReplacesTheBackendsOwnCorsHeaders() throws Exception {
        try (TestBackend permissive = TestBackend.builder().respond(exchange -> exchange.respond(200, "application/json",
                     "{}", "Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "true",
                     "Access-Control-Expose-Headers", "x-internal")).start();
             RunningProxy gateway = RunningProxy.start("""
                     server:
                       listen: "127.0.0.1:0"
                     upstreams:
                       vllm:
                         endpoints: ["%s"]
                     routes:
                       - path_prefix: /
                         upstream: vllm
                         cors:
                           allowed_origins: ["https://app.example.com"]
                     """.formatted(permissive.url()));
             RawHttpClient client = gateway.connect()) {
            RawResponse refused = client.send(RawHttpClient.request("GET", "/v1/models", null,
                    "Origin: https://evil.example.net")).readResponse();
            assertEquals(200, refused.status(), refused::toString);
            assertNull(refused.header("access-control-allow-origin"), refused::toString);
            assertNull(refused.header("access-control-allow-credentials"), refused::toString);
            assertNull(refused.header("access-control-expose-headers"), refused::toString);
            RawResponse allowed = client.send(RawHttpClient.request("GET", "/v1/models", null,
                    "Origin: https://app.example.com")).readResponse();
            assertEquals(List.of("https://app.example.com"), allowed.head().headers("access-control-allow-origin"),
                    allowed::toString);
            assertNull(allowed.header("access-control-allow-credentials"), allowed::toString);
            assertNull(allowed.header("access-control-expose-headers"), allowed::toString);
        }
    }
}
