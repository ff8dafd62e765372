package io.streamgate.upstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.testing.BackendExchange;
import io.streamgate.testing.Closer;
import io.streamgate.testing.HttpClients;
import io.streamgate.testing.Json;
import io.streamgate.testing.RawHttpClient;
import io.streamgate.testing.RawResponse;
import io.streamgate.testing.Responders;
import io.streamgate.testing.RunningProxy;
import io.streamgate.testing.TestBackend;
import io.streamgate.testing.TestCertificates;
import io.streamgate.testing.TlsTestBackend;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code https://} endpoints (verified against {@code tls.ca}, or the system trust store, with {@code server_name}
 * as SNI and the name checked) and the per-upstream backend {@code api_key}, which a route's
 * {@code upstream_api_key} overrides. The HTTPS backend is {@link TlsTestBackend} with a certificate from the test
 * CA; it answers "tls METHOD URI" and records each request with the SNI name of its connection.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class UpstreamTlsAndKeyTest {
    private final Closer closer = new Closer();
    private TestCertificates certs;

    @BeforeEach
    void createCertificates() throws Exception {
        certs = closer.add(TestCertificates.create());
    }

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /** A gateway with one upstream "secure" (the given YAML under it) behind route "/". */
    private RunningProxy proxy(String upstreamYaml) throws Exception {
        return closer.add(RunningProxy.withUpstream("secure", upstreamYaml));
    }

    private static RawResponse get(RunningProxy proxy, String target, String... headers) throws Exception {
        try (RawHttpClient client = proxy.connect()) {
            return client.get(target, headers).readResponse();
        }
    }

    /** A control: the HTTPS test backend itself works for a client that trusts the test CA. */
    @Test
    void theTlsTestBackendServesAClientTrustingTheTestCa() throws Exception {
        TlsTestBackend backend = closer.add(TlsTestBackend.start(certs.ecdsa("backend.internal")));
        HttpClient client = HttpClients.builder(certs).version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(backend.url() + "/direct")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode());
        assertEquals("tls GET /direct", response.body());
        assertEquals(1, backend.received().size());
    }

    @Test
    void anHttpsEndpointSignedByTheConfiguredCaIsServed() throws Exception {
        TlsTestBackend backend = closer.add(TlsTestBackend.start(certs.ecdsa("backend.internal")));
        RunningProxy proxy = proxy("""
                endpoints: ["%s"]
                tls: {ca: "%s"}
                """.formatted(backend.url(), certs.serverCaPem()));
        for (int i = 0; i < 3; i++) {
            RawResponse response = get(proxy, "/v1/models?n=" + i);
            assertEquals(200, response.status(), response::toString);
            assertEquals("tls GET /v1/models?n=" + i, response.bodyText());
        }
        assertEquals(3, backend.received().size());
        assertTrue(backend.handshakes() >= 1, "the backend saw no TLS handshake");
    }

    @Test
    void serverNameIsSentAsSniAndTheCertificateMustMatchIt() throws Exception {
        TlsTestBackend backend = closer.add(TlsTestBackend.start(certs.ecdsa("backend.internal")));
        RunningProxy matching = proxy("""
                endpoints: ["%s"]
                tls: {ca: "%s", server_name: backend.internal}
                """.formatted(backend.url(), certs.serverCaPem()));
        RawResponse ok = get(matching, "/named");
        assertEquals(200, ok.status(), ok::toString);
        assertEquals("tls GET /named", ok.bodyText());
        assertEquals("backend.internal", backend.received().get(0).sni(), "server_name must be sent as SNI");

        RunningProxy mismatched = proxy("""
                endpoints: ["%s"]
                tls: {ca: "%s", server_name: other.internal}
                """.formatted(backend.url(), certs.serverCaPem()));
        RawResponse refused = get(mismatched, "/mismatched");
        assertGatewayError(refused, 502);
        assertEquals(1, backend.received().size(), "no request may be sent over a connection whose name did not verify");
    }

    @Test
    void withoutACaTheSystemTrustStoreRejectsTheTestCertificate() throws Exception {
        TlsTestBackend backend = closer.add(TlsTestBackend.start(certs.ecdsa("backend.internal")));
        RunningProxy proxy = proxy("""
                endpoints: ["%s"]
                """.formatted(backend.url()));
        assertGatewayError(get(proxy, "/untrusted"), 502);
        assertEquals(0, backend.received().size(), "no request may be sent to an unverified backend");
    }

    @Test
    void verifyFalseAcceptsACertificateNoTrustedCaSigned() throws Exception {
        TlsTestBackend backend = closer.add(TlsTestBackend.start(certs.ecdsa("backend.internal")));
        RunningProxy proxy = proxy("""
                endpoints: ["%s"]
                tls: {verify: false}
                """.formatted(backend.url()));
        RawResponse response = get(proxy, "/unverified");
        assertEquals(200, response.status(), response::toString);
        assertEquals("tls GET /unverified", response.bodyText());
    }

    @Test
    void theUpstreamApiKeyReachesAnHttpsBackendInPlaceOfTheClientsAuthorization() throws Exception {
        TlsTestBackend backend = closer.add(TlsTestBackend.start(certs.ecdsa("backend.internal")));
        RunningProxy proxy = proxy("""
                endpoints: ["%s"]
                tls: {ca: "%s"}
                api_key: "sk-backend-secret"
                """.formatted(backend.url(), certs.serverCaPem()));
        RawResponse response = get(proxy, "/v1/models", "Authorization: Bearer client-own-token");
        assertEquals(200, response.status(), response::toString);
        assertEquals(List.of("Bearer sk-backend-secret"), backend.received().get(0).headers().getAll("authorization"));
    }

    @Test
    void theUpstreamApiKeyIsSentAndARoutesUpstreamApiKeyTakesPrecedence() throws Exception {
        TestBackend backend = closer.add(TestBackend.builder().respond(Responders.requestLine()).start());
        RunningProxy proxy = closer.add(RunningProxy.start("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  vllm:
                    endpoints: ["%s"]
                    api_key: "sk-upstream-key"
                routes:
                  - path_prefix: /route-key
                    upstream: vllm
                    upstream_api_key: "sk-route-key"
                  - path_prefix: /
                    upstream: vllm
                """.formatted(backend.url())));

        assertEquals(200, get(proxy, "/plain").status());
        assertEquals(200, get(proxy, "/with-client-auth", "Authorization: Bearer client-own-token").status());
        assertEquals(200, get(proxy, "/route-key/x").status());
        Map<String, List<String>> seen = new java.util.LinkedHashMap<>();
        for (BackendExchange exchange : backend.received()) {
            seen.put(exchange.uri(), exchange.headers().getAll("authorization"));
        }
        assertEquals(List.of("Bearer sk-upstream-key"), seen.get("/plain"), () -> "Authorization seen: " + seen);
        assertEquals(List.of("Bearer sk-upstream-key"), seen.get("/with-client-auth"),
                () -> "the upstream's key replaces the client's: " + seen);
        assertEquals(List.of("Bearer sk-route-key"), seen.get("/route-key/x"),
                () -> "the route's upstream_api_key takes precedence: " + seen);
    }

    /** The gateway's own error answer: {@code status} with an OpenAI error JSON body. */
    private static void assertGatewayError(RawResponse response, int status) {
        assertEquals(status, response.status(), response::toString);
        Object body = Json.parse(response.bodyText());
        assertTrue(body instanceof Map<?, ?> map && map.get("error") instanceof Map, response::toString);
    }
}
