package io.streamgate.admission;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
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

@Timeout(value = 30, unit = TimeUnit.SECONDS)
/**
 * Policies at their edges: on an `auth: off` route each credential header is checked on its own and only one that
 * carries our key is removed; CORS merges Vary with every line the backend sent and compares whole names; a browser
 * preflight for a route that lists only other methods is answered by that route's CORS rules.
 */
class PolicyEdgeCasesTest {
    private static final String KEY = "sk-ours-0123456789";

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        backend = TestBackend.builder().respond(exchange -> {
            exchange.awaitBody(30);
            if (exchange.uri().contains("twovary")) {
                exchange.respond(200, "text/plain", "ok", "Vary", "Accept-Encoding", "Vary", "Authorization");
            } else if (exchange.uri().contains("lookalike")) {
                exchange.respond(200, "text/plain", "ok", "Vary", "X-Origin-Hint");
            } else {
                exchange.respond(200, "text/plain", exchange.method() + " " + exchange.uri());
            }
        }).start();
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
                  - path_prefix: /open
                    upstream: backend
                    auth: "off"
                  - path_prefix: /cors
                    upstream: backend
                    cors:
                      allowed_origins: ["https://app.example.com"]
                  - path_prefix: /chat
                    methods: [POST]
                    upstream: backend
                    auth: required
                    cors:
                      allowed_origins: ["https://app.example.com"]
                      allowed_methods: [POST]
                """.formatted(KEY, backend.url()));
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        backend.close();
    }

    private RawResponse get(String target, String... headers) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target, headers).readResponse();
        }
    }

    private static List<String> varyTokens(RawResponse response) {
        return response.head().headers("vary").stream()
                .flatMap(v -> Arrays.stream(v.split(",")))
                .map(s -> s.trim().toLowerCase(Locale.ROOT)).toList();
    }

    @Test
    void ourKeyInXApiKeyIsNotForwardedWhenAuthorizationCarriesAnotherToken() throws Exception {
        RawResponse response = get("/open/x", "Authorization: Bearer backend-own-token", "x-api-key: " + KEY);
        assertEquals(200, response.status(), response::toString);
        BackendExchange seen = backend.takeExchange();
        assertFalse(seen.headers().toString().contains(KEY), "our key reached the backend: " + seen.headers());
        assertEquals("Bearer backend-own-token", seen.headers().get("authorization"));
    }

    @Test
    void ourBearerKeyIsStrippedButAForeignXApiKeyIsForwarded() throws Exception {
        RawResponse response = get("/open/x", "Authorization: Bearer " + KEY, "x-api-key: backend-own-key");
        assertEquals(200, response.status(), response::toString);
        BackendExchange seen = backend.takeExchange();
        assertFalse(seen.headers().toString().contains(KEY), "our key reached the backend: " + seen.headers());
        assertEquals("backend-own-key", seen.headers().get("x-api-key"));
    }

    @Test
    void everyBackendVaryHeaderIsKeptWhenOriginIsAdded() throws Exception {
        RawResponse response = get("/cors/twovary", "Origin: https://app.example.com");
        assertEquals(200, response.status(), response::toString);
        List<String> vary = varyTokens(response);
        assertTrue(vary.contains("accept-encoding"), () -> "lost accept-encoding: " + response);
        assertTrue(vary.contains("authorization"), () -> "lost authorization: " + response);
        assertTrue(vary.contains("origin"), () -> "no origin: " + response);
    }

    @Test
    void aVaryNameThatMerelyContainsOriginStillGetsOrigin() throws Exception {
        RawResponse response = get("/cors/lookalike", "Origin: https://app.example.com");
        assertEquals(200, response.status(), response::toString);
        List<String> vary = varyTokens(response);
        assertTrue(vary.contains("origin"), () -> "no Vary: Origin: " + response);
    }

    @Test
    void aPreflightForAPostOnlyRouteIsAnsweredByItsCorsRules() throws Exception {
        RawResponse response;
        try (RawHttpClient client = proxy.connect()) {
            response = client.send(RawHttpClient.request("OPTIONS", "/chat/completions", null, "Origin: https://app.example.com",
                    "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization, content-type")).readResponse();
        }
        assertEquals(204, response.status(), response::toString);
        assertEquals("https://app.example.com", response.header("access-control-allow-origin"), response::toString);
        assertEquals(0, backend.received().size());
    }

    @Test
    void aPlainOptionsOnAPostOnlyRouteStillDoesNotMatchIt() throws Exception {
        RawResponse response;
        try (RawHttpClient client = proxy.connect()) {
            response = client.send(RawHttpClient.request("OPTIONS", "/chat/completions", null)).readResponse();
        }
        assertEquals(404, response.status(), response::toString);
        assertEquals(0, backend.received().size());
    }
}
