package io.streamgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.HttpHeaders;
import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A route's {@code forwarded_headers}: X-Forwarded-*, RFC 7239 Forwarded, both or none reach the backend. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ForwardedHeadersTest {
    private static final List<String> X_FORWARDED = List.of("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host");
    private static final String[] SPOOFED = {"X-Forwarded-For: 6.6.6.6", "X-Forwarded-Proto: https",
            "X-Forwarded-Host: evil.example", "Forwarded: for=6.6.6.6;proto=https", "X-Real-IP: 6.6.6.6"};

    private TestBackend backend;
    private RunningProxy proxy;

    @BeforeEach
    void startBackend() throws Exception {
        backend = TestBackend.builder().respond(ex -> ex.respond(200, "text/plain", "ok")).start();
    }

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        backend.close();
    }

    private void start(String serverLines, String routeLines) throws ConfigException {
        proxy = RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                %s
                upstreams:
                  backend:
                    endpoints: ["%s"]
                routes:
                  - path_prefix: /
                    upstream: backend
                %s
                """.formatted(serverLines, backend.url(), routeLines.indent(4).stripTrailing()));
    }

    private HttpHeaders seenBy(String... headers) throws Exception {
        RawResponse response;
        try (RawHttpClient client = proxy.connect()) {
            response = client.get("/v1/models", headers).readResponse();
        }
        assertEquals(200, response.status(), response::toString);
        return backend.takeExchange().headers();
    }

    private static void assertNothingSpoofed(HttpHeaders seen) {
        seen.forEach(h -> assertFalse(h.getValue().contains("6.6.6.6") || h.getValue().contains("evil.example"),
                () -> "a client-supplied forwarding header reached the backend: " + h));
        assertNull(seen.get("X-Real-IP"), () -> "backend saw " + seen);
    }

    @Test
    void byDefaultOnlyXForwardedHeadersAreSet() throws Exception {
        start("", "");
        HttpHeaders seen = seenBy(SPOOFED);
        assertEquals("127.0.0.1", seen.get("X-Forwarded-For"));
        assertEquals("http", seen.get("X-Forwarded-Proto"));
        assertEquals("test.local", seen.get("X-Forwarded-Host"));
        assertNull(seen.get("Forwarded"), () -> "backend saw " + seen);
        assertNothingSpoofed(seen);
    }

    @Test
    void forwardedAloneSendsOneRfc7239ElementAndNoXForwardedHeaders() throws Exception {
        start("", "forwarded_headers: forwarded");
        HttpHeaders seen = seenBy(SPOOFED);
        assertEquals(List.of("for=127.0.0.1;proto=http;host=\"test.local\""), seen.getAll("Forwarded"));
        X_FORWARDED.forEach(name -> assertNull(seen.get(name), () -> name + " sent: " + seen));
        assertNothingSpoofed(seen);
    }

    @Test
    void bothSendsBoth() throws Exception {
        start("", "forwarded_headers: both");
        HttpHeaders seen = seenBy("Host: api.example.com:8443");
        assertEquals("127.0.0.1", seen.get("X-Forwarded-For"));
        assertEquals("api.example.com:8443", seen.get("X-Forwarded-Host"));
        assertEquals("for=127.0.0.1;proto=http;host=\"api.example.com:8443\"", seen.get("Forwarded"));
    }

    @Test
    void noneTellsTheBackendNothingAboutTheClient() throws Exception {
        start("", "forwarded_headers: none");
        HttpHeaders seen = seenBy(SPOOFED);
        X_FORWARDED.forEach(name -> assertNull(seen.get(name), () -> name + " sent: " + seen));
        assertNull(seen.get("Forwarded"), () -> "backend saw " + seen);
        assertNothingSpoofed(seen);
        seen.forEach(h -> assertFalse(h.getValue().contains("127.0.0.1") && !h.getKey().equalsIgnoreCase("host"),
                () -> "the client address reached the backend in " + h));
    }

    @Test
    void aTrustedProxysChainBecomesOneElementPerHopAndOnlyAddressesPass() throws Exception {
        start("  trusted_proxies: [\"127.0.0.1/32\"]", "forwarded_headers: both");
        HttpHeaders seen = seenBy("X-Forwarded-For: 203.0.113.7:5123, unknown",
                "X-Forwarded-For: [2001:db8::1]:443, ::ffff:198.51.100.2, evil;proto=https, \"quoted\"");
        assertEquals("203.0.113.7:5123, unknown, [2001:db8::1]:443, ::ffff:198.51.100.2, evil;proto=https, "
                + "\"quoted\", 127.0.0.1", seen.get("X-Forwarded-For"), "the chain is carried on as before");
        assertEquals("for=203.0.113.7, for=unknown, for=\"[2001:db8::1]\", for=198.51.100.2, for=unknown, "
                + "for=unknown, for=127.0.0.1;proto=http;host=\"test.local\"", seen.get("Forwarded"));
    }

    /** Frameworks believe more X-Forwarded-* names than the gateway sets: from anyone but a trusted proxy, none pass. */
    @Test
    void otherXForwardedNamesFromAClientAreDroppedAndATrustedProxysKept() throws Exception {
        String[] extra = {"X-Forwarded-Ssl: on", "x-forwarded-prefix: /admin", "X-FORWARDED-SCHEME: https",
                "X-Forwarded-Server: evil.example", "X-Forwardedness: kept"};
        start("", "");
        HttpHeaders seen = seenBy(extra);
        for (String name : List.of("X-Forwarded-Ssl", "X-Forwarded-Prefix", "X-Forwarded-Scheme", "X-Forwarded-Server")) {
            assertNull(seen.get(name), () -> name + " reached the backend: " + seen);
        }
        assertEquals("kept", seen.get("X-Forwardedness"), "only the X-Forwarded- family is dropped");
        proxy.close();
        proxy = null;

        start("  trusted_proxies: [\"127.0.0.1/32\"]", "");
        HttpHeaders trusted = seenBy(extra);
        assertEquals("on", trusted.get("X-Forwarded-Ssl"), () -> "a trusted proxy's header was dropped: " + trusted);
        assertEquals("/admin", trusted.get("X-Forwarded-Prefix"));
    }

    @Test
    void anUnknownChoiceIsAConfigErrorListingTheChoices() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  backend:
                    endpoints: ["http://127.0.0.1:9"]
                routes:
                  - path_prefix: /
                    upstream: backend
                    forwarded_headers: rfc7239
                """, "gw.yaml"));
        assertTrue(e.getMessage().contains("gw.yaml") && e.getMessage().contains("forwarded_headers")
                && e.getMessage().contains("x_forwarded, forwarded, both, none"), e::getMessage);
    }
}
