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

/** Dot segments are refused; absolute-form targets (RFC 9112 §3.2.2) are routed by their own host and path. */
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

    @Test
    void dotSegmentsAreRefusedWith400() throws Exception {
        for (String target : new String[] {"/v1/../admin", "/v1/./models", "/v1/%2e%2e/admin", "/v1/models/.."}) {
            try (RawHttpClient client = proxy.connect()) {
                RawResponse response = client.get(target, "Host: example.com").readResponse();
                assertError(response, 400, "bad_request");
            }
        }
        assertTrue(example.received().isEmpty(), () -> "a dot-segment target reached a backend: " + example.received());
        assertTrue(fallback.received().isEmpty(), () -> "a dot-segment target reached a backend: " + fallback.received());
    }

    @Test
    void anAbsoluteFormTargetIsRoutedByItsHostAndPath() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            // The Host header names another host: the target's authority wins.
            RawResponse byTarget = client.get("http://example.com/v1/models?limit=2", "Host: other.test").readResponse();
            assertEquals(200, byTarget.status(), byTarget::toString);
            assertTrue(byTarget.bodyText().startsWith("example /v1/models?limit=2 "), byTarget::toString);

            RawResponse otherHost = client.get("http://other.test/v1/models", "Host: example.com").readResponse();
            assertEquals(200, otherHost.status(), otherHost::toString);
            assertTrue(otherHost.bodyText().startsWith("fallback /v1/models "), otherHost::toString);
        }
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
