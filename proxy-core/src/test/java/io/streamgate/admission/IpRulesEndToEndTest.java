package io.streamgate.admission;

import static io.streamgate.testing.ErrorResponseAssert.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.AccessLogCapture;
import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * IP rules through the proxy: server level at accept (closed without a word), route level with 403 JSON, and the
 * client address taken from X-Forwarded-For only when the peer is a trusted proxy, as the right-most untrusted hop.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class IpRulesEndToEndTest {
    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void startBackend() {
        backend = TestBackend.builder().respond(Responders.requestLine()).start();
    }

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        backend.close();
    }

    private void start(String serverExtra, String routes) throws Exception {
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                %s
                """.formatted(serverExtra, backend.url(), routes));
    }

    private String yaml(String serverExtra, String routes) {
        return """
                server:
                  listen: "127.0.0.1:0"
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                %s
                """.formatted(serverExtra, backend.url(), routes);
    }

    private static final String CATCH_ALL = """
              - path_prefix: /
                upstream: backend
            """;

    private RawResponse get(String target, String... headers) throws IOException {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target, headers).readResponse();
        }
    }

    @Test
    void aServerLevelDenyClosesTheConnectionWithoutAResponse() throws Exception {
        start("  ip:\n    deny: [\"127.0.0.1/32\"]", CATCH_ALL);
        assertClosedWithoutResponse();
        // No request, so no access line: the refusal is seen in the metrics only.
        assertEquals(1.0, proxy.gateway().meters().find("streamgate.connections.refused").tag("reason", "ip_denied")
                .counter().count());
    }

    @Test
    void aServerLevelAllowListWithoutThePeerClosesTheConnection() throws Exception {
        start("  ip:\n    allow: [\"10.0.0.0/8\", \"2001:db8::/32\"]", CATCH_ALL);
        assertClosedWithoutResponse();
    }

    @Test
    void aServerLevelAllowListWithThePeerLetsItIn() throws Exception {
        start("  ip:\n    allow: [\"127.0.0.0/8\"]\n    deny: [\"127.0.0.2/32\"]", CATCH_ALL);
        assertEquals(200, get("/v1/in").status());
    }

    @Test
    void aRouteLevelDenyIs403AndOtherRoutesWork() throws Exception {
        start("", """
                  - path_prefix: /admin
                    upstream: backend
                    ip:
                      deny: ["127.0.0.0/8"]
                  - path_prefix: /
                    upstream: backend
                """);
        assertError(get("/admin/x"), 403, "ip_denied");
        assertEquals(200, get("/v1/x").status());
        assertEquals(1, backend.received().size(), "the denied request reached the backend");
    }

    @Test
    void behindATrustedProxyTheRightMostUntrustedHopIsTheClient() throws Exception {
        start("  trusted_proxies: [\"127.0.0.1/32\", \"10.0.0.0/8\"]", """
                  - path_prefix: /
                    upstream: backend
                    ip:
                      allow: ["203.0.113.0/24"]
                """);
        // 203.0.113.7 reached a trusted hop (10.9.9.9), which reached us through 127.0.0.1.
        RawResponse allowed = get("/v1/a", "X-Forwarded-For: 198.51.100.9, 203.0.113.7, 10.9.9.9");
        assertEquals(200, allowed.status(), allowed::toString);
        BackendExchange seen = backend.takeExchange();
        String xff = seen.headers().get("x-forwarded-for");
        assertTrue(xff != null && xff.replace(" ", "").equals("198.51.100.9,203.0.113.7,10.9.9.9,127.0.0.1"),
                "the upstream must see the received chain with the peer appended: " + xff);

        // The left-most entries are whatever the client wrote: they must not decide.
        assertError(get("/v1/b", "X-Forwarded-For: 203.0.113.7, 198.51.100.9"), 403, "ip_denied");
        assertError(get("/v1/c", "X-Forwarded-For: 198.51.100.9"), 403, "ip_denied");
        // Several X-Forwarded-For fields form one list.
        assertEquals(200, get("/v1/d", "X-Forwarded-For: 198.51.100.9", "X-Forwarded-For: 203.0.113.8").status());
        // No header: the trusted peer itself is the client, and it is not allowed here.
        assertError(get("/v1/e"), 403, "ip_denied");
    }

    @Test
    void requestsAnsweredBeforeRoutingAreLoggedWithTheClientBehindATrustedProxy() throws Exception {
        start("  trusted_proxies: [\"127.0.0.1/32\"]", """
                  - path_prefix: /v1
                    upstream: backend
                """);
        try (AccessLogCapture log = AccessLogCapture.capture()) {
            // No route (404) and a malformed target (400): answered before routing, but from the client 203.0.113.7
            // (through the load balancer at 127.0.0.1), which is the address the access log must carry.
            assertError(get("/elsewhere", "X-Forwarded-For: 203.0.113.7", "X-Request-Id: no-route"), 404, "route_not_found");
            assertError(get("/v1/bad%zz", "X-Forwarded-For: 203.0.113.7", "X-Request-Id: bad-target"), 400, "bad_request");
            for (String rid : new String[] {"rid=no-route ", "rid=bad-target "}) {
                String line = log.awaitLine(l -> l.contains(rid), 5_000);
                assertNotNull(line, "no access log line with " + rid);
                assertTrue(line.startsWith("203.0.113.7 "), "logged with the proxy's address instead of the client's: " + line);
            }
        }
        assertEquals(0, backend.received().size());
    }

    @Test
    void anIpv6WildcardRuleDoesNotReachIpv4Clients() throws Exception {
        // "::/0" is every IPv6 address, as in nginx and Envoy; an IPv4 client (here 127.0.0.1) is not one of them, even
        // though it is held as ::ffff:127.0.0.1 internally. An allow list of "10.0.0.0/8 and all of IPv6" must not let
        // every IPv4 client in, and denying IPv6 must not lock out IPv4.
        start("  trusted_proxies: [\"127.0.0.2/32\"]", """
                  - path_prefix: /allow6
                    upstream: backend
                    ip:
                      allow: ["10.0.0.0/8", "::/0"]
                  - path_prefix: /deny6
                    upstream: backend
                    ip:
                      deny: ["::/64"]
                """);
        assertError(get("/allow6/x"), 403, "ip_denied");
        assertEquals(200, get("/deny6/x").status());
        assertEquals(1, backend.received().size(), "the denied request reached the backend");
    }

    @Test
    void anIpv6WildcardRuleStillMatchesIpv6ClientsBehindATrustedProxy() throws Exception {
        start("  trusted_proxies: [\"127.0.0.1/32\"]", """
                  - path_prefix: /
                    upstream: backend
                    ip:
                      deny: ["::/0"]
                """);
        assertError(get("/v1/x", "X-Forwarded-For: 2001:db8::7"), 403, "ip_denied");
        assertEquals(200, get("/v1/y", "X-Forwarded-For: 203.0.113.7").status());
        assertEquals(200, get("/v1/z", "X-Forwarded-For: ::ffff:203.0.113.7").status());
    }

    @Test
    void aConnectionFromAProxyThatIsNoLongerTrustedStillMeetsTheServerRules() throws Exception {
        // The server rules were skipped at accept because the peer was a trusted proxy; a reload that stops trusting
        // it must not leave its open connection with no server rules at all.
        String trusted = "  trusted_proxies: [\"127.0.0.1/32\"]\n  ip:\n    allow: [\"203.0.113.0/24\"]";
        start(trusted, CATCH_ALL);
        try (RawHttpClient client = proxy.connect()) {
            RawResponse first = client.get("/v1/a", "X-Forwarded-For: 203.0.113.7").readResponse();
            assertEquals(200, first.status(), first::toString);
            proxy.gateway().reload(io.streamgate.config.ConfigLoader.parse(
                    yaml("  ip:\n    allow: [\"203.0.113.0/24\"]", CATCH_ALL), "test.yaml"));
            // 127.0.0.1 is now an ordinary client, and not one the allow list names.
            RawResponse second = client.get("/v1/b", "X-Forwarded-For: 203.0.113.7").readResponse();
            assertError(second, 403, "ip_denied");
        }
        assertEquals(1, backend.received().size(), "a request outside the server's allow list reached the backend");
    }

    @Test
    void fromAnUntrustedPeerForwardingHeadersAreReplaced() throws Exception {
        start("  trusted_proxies: [\"10.0.0.0/8\"]", """
                  - path_prefix: /
                    upstream: backend
                    ip:
                      deny: ["203.0.113.0/24"]
                """);
        RawResponse response = get("/v1/spoof", "X-Forwarded-For: 10.1.1.1", "X-Real-IP: 10.1.1.1", "Forwarded: for=10.1.1.1");
        assertEquals(200, response.status(), response::toString);
        BackendExchange seen = backend.takeExchange();
        assertEquals("127.0.0.1", seen.headers().get("x-forwarded-for"), "a spoofed X-Forwarded-For must be replaced");
        assertEquals(null, seen.headers().get("x-real-ip"));
        assertEquals(null, seen.headers().get("forwarded"));
        // A spoofed address in a denied range does not get the peer denied either: the header is not believed at all.
        assertEquals(200, get("/v1/spoof2", "X-Forwarded-For: 203.0.113.7").status());
    }

    private void assertClosedWithoutResponse() throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            int first;
            try {
                client.get("/v1/denied");
                client.socket().setSoTimeout(2_000);
                first = client.socket().getInputStream().read();
            } catch (java.net.SocketTimeoutException stillOpen) {
                throw new AssertionError("a denied peer's connection is still open after 2 s");
            } catch (java.net.SocketException reset) {
                first = -1;
            }
            assertEquals(-1, first, "a denied peer must get no response at all");
        }
        TimeUnit.MILLISECONDS.sleep(200);
        assertEquals(0, backend.received().size(), "a denied peer reached the backend");
    }
}
