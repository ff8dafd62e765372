package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Paths are normalised before routing; absolute-form targets (RFC 9112 §3.2.2) are routed by their own host and path. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RequestTargetTest {
    private TestBackend example;
    private TestBackend fallback;
    private RunningProxy proxy;

    @BeforeEach
    void start() throws Exception {
        example = TestBackend.builder().respond(answer("example")).start();
        fallback = TestBackend.builder().respond(answer("fallback")).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  example:
                    endpoints: ["%s"]
                  fallback:
                    endpoints: ["%s"]
                routes:
                  - host: example.com
                    path_prefix: /v1
                    upstream: example
                  - path_prefix: /
                    upstream: fallback
                """.formatted(example.url(), fallback.url()));
    }

    /** Answers "NAME URI host=HOST": which backend got the request, with which target and Host. */
    private static TestBackend.Responder answer(String name) {
        return ex -> {
            ex.awaitBody(10);
            ex.respond(200, "text/plain", name + " " + ex.uri() + " host=" + ex.headers().get("host"));
        };
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        example.close();
        fallback.close();
    }

    /**
     * Paths are normalised before routing, and the backend receives the normalised path: a rule written for /admin
     * also catches /v1/../admin. A path that climbs above the root is refused.
     */
    @Test
    void dotSegmentsAreResolvedBeforeRouting() throws Exception {
        String[][] cases = {
            {"/v1/../admin", "fallback /admin "},
            {"/v1/./models", "example /v1/models "},
            {"/v1/%2e%2e/admin", "fallback /admin "},
            {"/v1/.%2E/admin", "fallback /admin "},
            {"//v1//models", "example /v1/models "},
            {"/v1/models/..", "example /v1/ "},
        };
        for (String[] c : cases) {
            try (RawHttpClient client = proxy.connect()) {
                RawResponse response = client.get(c[0], "Host: example.com").readResponse();
                assertEquals(200, response.status(), () -> c[0] + ": " + response);
                assertTrue(response.bodyText().startsWith(c[1]), () -> c[0] + " reached " + response.bodyText());
            }
        }
        for (String target : new String[] {"/../x", "/v1/../../x", "/v1/..%2F..%2Fx"}) {
            try (RawHttpClient client = proxy.connect()) {
                assertError(client.get(target, "Host: example.com").readResponse(), 400, "bad_request");
            }
        }
    }

    @Test
    void anAbsoluteFormTargetIsRoutedByItsHostAndPath() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            // The Host header names another host: the target's authority wins.
            RawResponse byTarget = client.get("http://example.com/v1/models?limit=2", "Host: other.test").readResponse();
            assertEquals(200, byTarget.status(), byTarget::toString);
            assertTrue(byTarget.bodyText().startsWith("example /v1/models?limit=2 "), byTarget::toString);
        }
        // No route names other.test: an absolute-form target for it would make us an open forward proxy.
        try (RawHttpClient client = proxy.connect()) {
            assertError(client.get("http://other.test/v1/models", "Host: example.com").readResponse(), 400, "bad_request");
        }
        assertTrue(fallback.received().isEmpty(), () -> "a foreign absolute-form target reached a backend: " + fallback.received());
    }

    /**
     * RFC 9112 §3.2.2: a server receiving an absolute-form target must ignore the Host header and use the target's
     * authority, and a proxy must replace Host with it. Otherwise the backend sees a different host from the one the
     * gateway routed on.
     */
    @Test
    void anAbsoluteFormTargetsAuthorityIsTheHostTheBackendSees() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            RawResponse response = client.get("http://example.com/v1/models", "Host: other.test").readResponse();
            assertEquals(200, response.status(), response::toString);
            assertEquals("example /v1/models host=example.com", response.bodyText());
        }
    }
}
