package io.streamgate;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Which route, and so which backend and path, a request reaches. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RoutingTest {
    private static TestBackend a;
    private static TestBackend b;
    private static TestBackend c;
    private static TestBackend d;
    private static RunningProxy proxy;

    @BeforeAll
    static void start() throws Exception {
        a = TestBackend.builder().respond(Responders.named("a")).start();
        b = TestBackend.builder().respond(Responders.named("b")).start();
        c = TestBackend.builder().respond(Responders.named("c")).start();
        d = TestBackend.builder().respond(Responders.named("d")).start();
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  a:
                    endpoints: ["%s"]
                  b:
                    endpoints: ["%s"]
                  c:
                    endpoints: ["%s"]
                  d:
                    endpoints: ["%s"]
                routes:
                  - name: v1
                    path_prefix: /v1
                    upstream: a
                  - name: chat
                    path_prefix: /v1/chat
                    upstream: b
                  - name: exact-host
                    host: api.example.com
                    path_prefix: /h
                    upstream: c
                  - name: any-subdomain
                    host: "*.example.org"
                    path_prefix: /h
                    upstream: d
                  - name: strip
                    path_prefix: /strip
                    upstream: a
                    strip_prefix: true
                  - name: rewrite
                    path_prefix: /rw
                    upstream: a
                    rewrite_prefix: /api
                  - name: post-only
                    path_prefix: /post-only
                    methods: [POST]
                    upstream: a
                """.formatted(a.url(), b.url(), c.url(), d.url()));
    }

    @AfterAll
    static void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        for (TestBackend backend : new TestBackend[] {a, b, c, d}) {
            if (backend != null) {
                backend.close();
            }
        }
    }

    private static RawResponse get(String target, String... headers) throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target, headers).readResponse();
        }
    }

    private static void assertRoutedTo(String expectedBody, RawResponse response) {
        assertEquals(200, response.status(), response::toString);
        assertEquals(expectedBody, response.bodyText());
    }

    @Test
    void noMatchingRouteIs404Json() throws Exception {
        assertError(get("/nothing/here"), 404, "route_not_found");
    }

    @Test
    void longestPrefixWins() throws Exception {
        assertRoutedTo("b GET /v1/chat/completions", get("/v1/chat/completions"));
        assertRoutedTo("a GET /v1/models", get("/v1/models"));
        assertRoutedTo("a GET /v1", get("/v1"));
    }

    @Test
    void exactHostMatchesIgnoringThePort() throws Exception {
        assertRoutedTo("c GET /h/x", get("/h/x", "Host: api.example.com"));
        assertRoutedTo("c GET /h/x", get("/h/x", "Host: api.example.com:8443"));
        assertError(get("/h/x", "Host: web.example.com"), 404, "route_not_found");
    }

    /** A connection reuses the host it cut from the previous request's Host header only while the header is the same. */
    @Test
    void eachRequestOnAConnectionIsRoutedByItsOwnHost() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            assertRoutedTo("c GET /h/1", client.get("/h/1", "Host: api.example.com:8443").readResponse());
            assertRoutedTo("c GET /h/2", client.get("/h/2", "Host: api.example.com:8443").readResponse());
            assertRoutedTo("d GET /h/3", client.get("/h/3", "Host: EU.example.org").readResponse());
            assertError(client.get("/h/4", "Host: web.example.com").readResponse(), 404, "route_not_found");
            assertRoutedTo("c GET /h/5", client.get("/h/5", "Host: API.example.com.").readResponse());
        }
    }

    @Test
    void wildcardHostMatchesSubdomainsOnly() throws Exception {
        assertRoutedTo("d GET /h/y", get("/h/y", "Host: eu.example.org"));
        assertRoutedTo("d GET /h/y", get("/h/y", "Host: a.b.example.org:8080"));
        assertError(get("/h/y", "Host: example.org"), 404, "route_not_found");
        assertError(get("/h/y", "Host: evil-example.org"), 404, "route_not_found");
    }

    @Test
    void stripPrefixRemovesTheMatchedPrefixAndKeepsTheQuery() throws Exception {
        assertRoutedTo("a GET /x/y?q=1&r=2", get("/strip/x/y?q=1&r=2"));
        assertRoutedTo("a GET /", get("/strip"));
    }

    @Test
    void rewritePrefixReplacesTheMatchedPrefix() throws Exception {
        assertRoutedTo("a GET /api/x?q=1", get("/rw/x?q=1"));
    }

    @Test
    void methodsRestrictARoute() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            assertRoutedTo("a POST /post-only/x", client.post("/post-only/x", "{}").readResponse());
        }
        assertError(get("/post-only/x"), 404, "route_not_found");
    }
}
